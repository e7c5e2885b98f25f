-- Storage locations and storage-event automations (server/src/store/workflow/storage.rs): a
-- new object in a location (a file in a watched folder, or one a subscription reports) submits
-- the task of each automation whose trigger's glob matches it, once per object version.
CREATE TABLE storage_locations (
    id         BYTEA PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       BIGINT NOT NULL,   -- workflows.v1.StorageType
    location   TEXT NOT NULL,      -- bucket, container or local path
    region     TEXT NOT NULL,
    project_id TEXT NOT NULL,
    account    TEXT NOT NULL,      -- Azure storage account resource id
    created_ns BIGINT NOT NULL
);
CREATE TABLE storage_triggers (
    id            BYTEA PRIMARY KEY,
    automation_id BYTEA NOT NULL,
    location_id   BYTEA NOT NULL,
    glob          TEXT NOT NULL,
    since_ns      BIGINT NOT NULL   -- objects older than the trigger (its creation or update) do not fire it
);
CREATE INDEX storage_triggers_by_automation ON storage_triggers (automation_id);
CREATE INDEX storage_triggers_by_location ON storage_triggers (location_id);
CREATE TABLE storage_subscriptions (
    id          BYTEA PRIMARY KEY,
    location_id BYTEA NOT NULL,
    kind        BIGINT NOT NULL,  -- workflows.v1.StorageSubscriptionType
    created_ns  BIGINT NOT NULL
);
CREATE INDEX storage_subscriptions_by_location ON storage_subscriptions (location_id);
-- One row per object version reported; the unique keys here and on `storage_event_jobs` are
-- what make a new file submit one job per automation, however many replicas see it.
CREATE TABLE storage_events (
    id              BYTEA PRIMARY KEY,
    location_id     BYTEA NOT NULL,
    object_key      TEXT NOT NULL,
    version_ns      BIGINT NOT NULL,
    event_ns        BIGINT NOT NULL,
    received_ns     BIGINT NOT NULL,
    subscription_id BYTEA,
    UNIQUE (location_id, object_key, version_ns)
);
CREATE INDEX storage_events_by_location ON storage_events (location_id, id);
CREATE INDEX storage_events_by_received ON storage_events (received_ns);
CREATE TABLE storage_event_jobs (
    event_id      BYTEA NOT NULL,
    job_id        BYTEA NOT NULL,
    automation_id BYTEA NOT NULL,
    glob          TEXT NOT NULL
);
CREATE UNIQUE INDEX storage_event_jobs_once ON storage_event_jobs (event_id, automation_id);
