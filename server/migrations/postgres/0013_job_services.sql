-- The job list's service filter (server/src/store/job_filter.rs): one row per job and service it
-- ran on, ordered by the job's start, carrying the columns the list filters and counts by, so
-- "service = X" walks X's rows newest first (a page) or counts them from the index (its chips)
-- instead of matching every job's `services` JSON by LIKE. A trigger keeps it: the rows of a
-- job are written again whenever one of the columns they copy changes. Every write of a job
-- holds the job's row lock, so two writers never rewrite one job's rows at once.
-- No job changes between the copy below and the trigger's creation: an older replica that
-- still writes waits for this migration.
LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE job_services (
    service      TEXT NOT NULL,
    job_start_ns BIGINT NOT NULL,
    job_id       BYTEA NOT NULL,
    job_end_ns   BIGINT NOT NULL,
    job_state    INTEGER NOT NULL,
    job_errors   BIGINT NOT NULL,
    PRIMARY KEY (service, job_start_ns, job_id) INCLUDE (job_end_ns, job_state, job_errors)
);
CREATE INDEX job_services_by_job ON job_services (job_id);
-- "Longest first" within a service.
CREATE INDEX job_services_by_duration
    ON job_services (service, (job_end_ns - job_start_ns) DESC, job_id DESC);
-- `services` is always a JSON array of names (job_rollup.rs); another JSON value counts as
-- none, and so does an element that is not a string (as on SQLite).
CREATE FUNCTION job_service_names(services TEXT) RETURNS SETOF TEXT
    LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT e #>> '{}' FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(services::jsonb) = 'array' THEN services::jsonb ELSE '[]' END) e
    WHERE jsonb_typeof(e) = 'string'
$$;
INSERT INTO job_services (service, job_start_ns, job_id, job_end_ns, job_state, job_errors)
    SELECT s, j.start_ns, j.id, j.end_ns, j.state, j.error_count
    FROM jobs j, job_service_names(j.services) s;
CREATE FUNCTION job_services_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM job_services WHERE job_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO job_services (service, job_start_ns, job_id, job_end_ns, job_state, job_errors)
            SELECT s, NEW.start_ns, NEW.id, NEW.end_ns, NEW.state, NEW.error_count
            FROM job_service_names(NEW.services) s;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_serviced_insert_delete AFTER INSERT OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION job_services_kept();
CREATE TRIGGER jobs_serviced_update
    AFTER UPDATE OF services, start_ns, end_ns, state, error_count ON jobs
    FOR EACH ROW WHEN (OLD.services IS DISTINCT FROM NEW.services
        OR OLD.start_ns IS DISTINCT FROM NEW.start_ns OR OLD.end_ns IS DISTINCT FROM NEW.end_ns
        OR OLD.state IS DISTINCT FROM NEW.state OR OLD.error_count IS DISTINCT FROM NEW.error_count)
    EXECUTE FUNCTION job_services_kept();
