-- Traces, their jobs and logs. Timestamps are unix nanoseconds; JSON is stored as text.

CREATE TABLE resources (
    id           BIGINT PRIMARY KEY,    -- stable hash of attributes
    attributes   TEXT NOT NULL,
    service_name TEXT NOT NULL
);

CREATE TABLE jobs (
    id          BYTEA PRIMARY KEY,      -- 16-byte UUID
    trace_id    BYTEA NOT NULL UNIQUE,  -- 16 bytes
    kind        INTEGER NOT NULL,       -- 0 trace-only, 1 workflow
    name        TEXT NOT NULL,
    name_source INTEGER NOT NULL,       -- 0 earliest span, 1 root span, 2 submitted
    root_status INTEGER,
    state       INTEGER NOT NULL,
    start_ns    BIGINT NOT NULL,
    end_ns      BIGINT NOT NULL,
    span_count  BIGINT NOT NULL,
    error_count BIGINT NOT NULL,
    failed_tasks TEXT NOT NULL,     -- JSON {task_key: start_ns} of tasks whose latest attempt failed
    services    TEXT NOT NULL           -- JSON array of service names
);
CREATE INDEX jobs_by_start ON jobs (start_ns DESC, id DESC);

CREATE TABLE spans (
    trace_id       BYTEA NOT NULL,
    span_id        BYTEA NOT NULL,
    parent_span_id BYTEA,
    name           TEXT NOT NULL,
    kind           INTEGER NOT NULL,
    start_ns       BIGINT NOT NULL,
    end_ns         BIGINT NOT NULL,
    status_code    INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    attributes     TEXT NOT NULL,
    events         TEXT NOT NULL,
    resource_id    BIGINT NOT NULL,
    service_name   TEXT NOT NULL,
    scope_name     TEXT NOT NULL,
    scope_version  TEXT NOT NULL,
    task_key       TEXT,
    PRIMARY KEY (trace_id, span_id)
);

CREATE TABLE logs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trace_id        BYTEA,
    span_id         BYTEA,
    time_ns         BIGINT NOT NULL,
    observed_ns     BIGINT NOT NULL,
    severity_number INTEGER NOT NULL,
    severity_text   TEXT NOT NULL,
    body            TEXT NOT NULL,
    attributes      TEXT NOT NULL,
    resource_id     BIGINT NOT NULL,
    scope_name      TEXT NOT NULL
);
CREATE INDEX logs_by_trace ON logs (trace_id, time_ns);
