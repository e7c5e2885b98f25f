-- The job list's service filter (server/src/store/job_filter.rs): one row per job and service it
-- ran on, ordered by the job's start, carrying the columns the list filters and counts by, so
-- "service = X" walks X's rows newest first (a page) or counts them without touching `jobs`
-- (its chips) instead of matching every job's `services` JSON by LIKE. Triggers keep it: the
-- rows of a job are written again whenever one of the columns they copy changes.
CREATE TABLE job_services (
    service      TEXT NOT NULL,
    job_start_ns INTEGER NOT NULL,
    job_id       BLOB NOT NULL,
    job_end_ns   INTEGER NOT NULL,
    job_state    INTEGER NOT NULL,
    job_errors   INTEGER NOT NULL,
    PRIMARY KEY (service, job_start_ns, job_id)
) WITHOUT ROWID;
CREATE INDEX job_services_by_job ON job_services (job_id);
-- "Longest first" within a service.
CREATE INDEX job_services_by_duration
    ON job_services (service, (job_end_ns - job_start_ns) DESC, job_id DESC);
-- `services` is always a JSON array of names (job_rollup.rs); anything else counts as none
-- rather than failing the job's write.
INSERT INTO job_services (service, job_start_ns, job_id, job_end_ns, job_state, job_errors)
    SELECT DISTINCT s.value, j.start_ns, j.id, j.end_ns, j.state, j.error_count
    FROM jobs j, json_each(CASE WHEN json_valid(j.services) THEN j.services ELSE '[]' END) s
    WHERE s.type = 'text';
CREATE TRIGGER jobs_serviced_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_services (service, job_start_ns, job_id, job_end_ns, job_state, job_errors)
        SELECT DISTINCT value, new.start_ns, new.id, new.end_ns, new.state, new.error_count
        FROM json_each(CASE WHEN json_valid(new.services) THEN new.services ELSE '[]' END)
        WHERE type = 'text';
END;
CREATE TRIGGER jobs_serviced_update
    AFTER UPDATE OF services, start_ns, end_ns, state, error_count ON jobs
    WHEN old.services IS NOT new.services OR old.start_ns IS NOT new.start_ns
        OR old.end_ns IS NOT new.end_ns OR old.state IS NOT new.state
        OR old.error_count IS NOT new.error_count
BEGIN
    DELETE FROM job_services WHERE job_id = old.id;
    INSERT INTO job_services (service, job_start_ns, job_id, job_end_ns, job_state, job_errors)
        SELECT DISTINCT value, new.start_ns, new.id, new.end_ns, new.state, new.error_count
        FROM json_each(CASE WHEN json_valid(new.services) THEN new.services ELSE '[]' END)
        WHERE type = 'text';
END;
CREATE TRIGGER jobs_serviced_delete AFTER DELETE ON jobs BEGIN
    DELETE FROM job_services WHERE job_id = old.id;
END;
