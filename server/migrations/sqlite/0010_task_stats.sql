-- Task analytics across runs (server/src/store/workflow/analytics.rs): ended attempts are
-- counted into per-day histograms by a background roll-up, off the claim and report path.
-- `rolled` marks an attempt counted; the roll-up marks and counts in one transaction.
ALTER TABLE task_attempts ADD COLUMN rolled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX task_attempts_unrolled ON task_attempts (stopped_ns) WHERE rolled = 0 AND outcome <> 0;

-- Per task identifier, version and UTC day: how many attempts ended, and a log-scale histogram
-- of their duration (kind 0, with how many failed) and of their wait in the queue (kind 1).
CREATE TABLE task_stats (
    identifier_name    TEXT NOT NULL,
    identifier_version TEXT NOT NULL,
    day_ns             INTEGER NOT NULL,
    kind               INTEGER NOT NULL,
    bucket             INTEGER NOT NULL,
    executions         INTEGER NOT NULL,
    failed             INTEGER NOT NULL,
    PRIMARY KEY (identifier_name, identifier_version, day_ns, kind, bucket)
);
CREATE INDEX task_stats_by_day ON task_stats (day_ns);

-- The slowest attempts per identifier, version and day (a few each), to link to their spans.
CREATE TABLE task_slow_runs (
    identifier_name    TEXT NOT NULL,
    identifier_version TEXT NOT NULL,
    day_ns             INTEGER NOT NULL,
    duration_ns        INTEGER NOT NULL,
    task_id            BLOB NOT NULL,
    attempt            INTEGER NOT NULL,
    job_id             BLOB NOT NULL,
    runner             TEXT NOT NULL,
    failed             INTEGER NOT NULL,
    PRIMARY KEY (identifier_name, identifier_version, day_ns, task_id, attempt)
);
CREATE INDEX task_slow_runs_by_day ON task_slow_runs (day_ns);

-- What the roll-up re-reads per identifier and day.
CREATE INDEX task_stats_by_name_day ON task_stats (identifier_name, day_ns);

-- Per task identifier and UTC day, all versions together: the day's runs, failures and duration
-- percentiles, recomputed by the roll-up for each day it adds to (the /tasks page's sparklines
-- read these, not the histograms).
CREATE TABLE task_daily (
    identifier_name TEXT NOT NULL,
    day_ns          INTEGER NOT NULL,
    executions      INTEGER NOT NULL,
    failed          INTEGER NOT NULL,
    p50_ns          INTEGER,
    p95_ns          INTEGER,
    p99_ns          INTEGER,
    PRIMARY KEY (identifier_name, day_ns)
);
CREATE INDEX task_daily_by_day ON task_daily (day_ns);
