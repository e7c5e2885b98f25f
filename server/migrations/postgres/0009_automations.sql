-- Automations (server/src/store/workflow/automations.rs): a task prototype submitted as a job
-- whenever one of its cron triggers is due. Jobs keep the automation and trigger time that
-- submitted them (after the automation is deleted too).
CREATE TABLE automations (
    id                 BYTEA PRIMARY KEY,
    name               TEXT NOT NULL,
    cluster_slug       TEXT NOT NULL,
    identifier_name    TEXT NOT NULL,
    identifier_version TEXT NOT NULL,
    display            TEXT NOT NULL,
    input              BYTEA NOT NULL,
    max_retries        BIGINT NOT NULL,
    created_ns         BIGINT NOT NULL
);
CREATE TABLE cron_triggers (
    id            BYTEA PRIMARY KEY,
    automation_id BYTEA NOT NULL,
    schedule      TEXT NOT NULL,
    next_ns       BIGINT NOT NULL   -- when it is due next
);
CREATE INDEX cron_triggers_by_automation ON cron_triggers (automation_id);
CREATE INDEX cron_triggers_due ON cron_triggers (next_ns);
ALTER TABLE jobs ADD COLUMN automation_id BYTEA;
ALTER TABLE jobs ADD COLUMN trigger_ns BIGINT;
CREATE INDEX jobs_by_automation ON jobs (automation_id, submitted_ns) WHERE automation_id IS NOT NULL;
