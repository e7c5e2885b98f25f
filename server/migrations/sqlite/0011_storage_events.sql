-- Storage locations and storage-event automations (server/src/store/workflow/storage.rs): a
-- new object in a location (a file in a watched folder, or one a subscription reports) submits
-- the task of each automation whose trigger's glob matches it, once per object version.
CREATE TABLE storage_locations (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       INTEGER NOT NULL,   -- workflows.v1.StorageType
    location   TEXT NOT NULL,      -- bucket, container or local path
    region     TEXT NOT NULL,
    project_id TEXT NOT NULL,
    account    TEXT NOT NULL,      -- Azure storage account resource id
    created_ns INTEGER NOT NULL
);
CREATE TABLE storage_triggers (
    id            BLOB PRIMARY KEY,
    automation_id BLOB NOT NULL,
    location_id   BLOB NOT NULL,
    glob          TEXT NOT NULL,
    since_ns      INTEGER NOT NULL   -- objects older than the trigger (its creation or update) do not fire it
);
CREATE INDEX storage_triggers_by_automation ON storage_triggers (automation_id);
CREATE INDEX storage_triggers_by_location ON storage_triggers (location_id);
CREATE TABLE storage_subscriptions (
    id          BLOB PRIMARY KEY,
    location_id BLOB NOT NULL,
    kind        INTEGER NOT NULL,  -- workflows.v1.StorageSubscriptionType
    created_ns  INTEGER NOT NULL
);
CREATE INDEX storage_subscriptions_by_location ON storage_subscriptions (location_id);
-- One row per object version reported; the unique keys here and on `storage_event_jobs` are
-- what make a new file submit one job per automation, however many replicas see it.
CREATE TABLE storage_events (
    id              BLOB PRIMARY KEY,
    location_id     BLOB NOT NULL,
    object_key      TEXT NOT NULL,
    version_ns      INTEGER NOT NULL,
    event_ns        INTEGER NOT NULL,
    received_ns     INTEGER NOT NULL,
    subscription_id BLOB,
    UNIQUE (location_id, object_key, version_ns)
);
CREATE INDEX storage_events_by_location ON storage_events (location_id, id);
CREATE INDEX storage_events_by_received ON storage_events (received_ns);
CREATE TABLE storage_event_jobs (
    event_id      BLOB NOT NULL,
    job_id        BLOB NOT NULL,
    automation_id BLOB NOT NULL,
    glob          TEXT NOT NULL
);
CREATE UNIQUE INDEX storage_event_jobs_once ON storage_event_jobs (event_id, automation_id);
