-- Workflow jobs (jobs.kind = 1), their tasks, dependencies, attempts and clusters.
-- Timestamps are unix nanoseconds; task and job states use the workflows.v1 enum numbers.

CREATE TABLE clusters (
    slug         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    description  TEXT NOT NULL,
    is_default   INTEGER NOT NULL,
    created_ns   BIGINT NOT NULL
);
INSERT INTO clusters (slug, display_name, description, is_default, created_ns)
VALUES ('default', 'Default', 'The cluster runners and jobs use when none is named', 1, 0);

ALTER TABLE jobs ADD COLUMN trace_parent TEXT;
ALTER TABLE jobs ADD COLUMN submitted_ns BIGINT;
ALTER TABLE jobs ADD COLUMN canceled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE tasks (
    id                 BYTEA PRIMARY KEY,   -- UUIDv7: time-ordered
    job_id             BYTEA NOT NULL,
    parent_id          BYTEA,
    cluster_slug       TEXT NOT NULL,
    identifier_name    TEXT NOT NULL,
    identifier_version TEXT NOT NULL,
    display            TEXT NOT NULL,
    input              BYTEA NOT NULL,
    state              INTEGER NOT NULL,  -- workflows.v1.TaskState
    optional           INTEGER NOT NULL,
    max_retries        BIGINT NOT NULL,
    retry_count        BIGINT NOT NULL,
    pending_deps       BIGINT NOT NULL,      -- dependencies not computed yet
    submitted_ns       BIGINT NOT NULL,
    started_ns         BIGINT,
    stopped_ns         BIGINT,
    lease_expires_ns   BIGINT,
    runner             TEXT,
    attempts           BIGINT NOT NULL       -- claims so far
);
CREATE INDEX tasks_by_job ON tasks (job_id, submitted_ns);
-- The queue: runnable tasks of a cluster, oldest first.
CREATE INDEX tasks_queued ON tasks (cluster_slug, identifier_name, submitted_ns) WHERE state = 1 AND pending_deps = 0;
-- Running tasks by lease expiry, to put tasks of dead runners back in the queue.
CREATE INDEX tasks_leased ON tasks (lease_expires_ns) WHERE state = 2;

CREATE TABLE task_dependencies (
    task_id    BYTEA NOT NULL,
    depends_on BYTEA NOT NULL,
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX task_dependents ON task_dependencies (depends_on);

-- One row per claim of a task: who ran it, when, and how it ended.
CREATE TABLE task_attempts (
    task_id    BYTEA NOT NULL,
    attempt    BIGINT NOT NULL,
    runner     TEXT NOT NULL,
    started_ns BIGINT NOT NULL,
    stopped_ns BIGINT,
    outcome    INTEGER NOT NULL,  -- 0 running, 1 computed, 2 failed, 3 lease expired, 4 canceled
    error      TEXT NOT NULL,
    PRIMARY KEY (task_id, attempt)
);

-- Which task execution a log record came from (its `task_id` attribute), for task filters.
ALTER TABLE logs ADD COLUMN task_id TEXT;
CREATE INDEX logs_by_task ON logs (trace_id, task_id) WHERE task_id IS NOT NULL;
