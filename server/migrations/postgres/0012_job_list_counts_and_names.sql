-- Job counts per state for the job list's chips (server/src/store/job_reads.rs): the chips of
-- the unfiltered list read these few rows instead of counting every job. Each insert, state
-- change and delete of a job appends a +1/-1 row to `job_state_deltas` (an append takes no lock
-- another writer waits for: a shared counter row would serialise every transaction that
-- creates or finishes a job, and deadlock two that touch several jobs); readers add the deltas
-- to `job_state_counts`, into which every server folds them once a second
-- (`TraceStore::fold_job_state_counts`).
-- No job changes between the count below and the triggers' creation (an older replica may
-- still be writing): it waits for this migration.
LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE job_state_counts (
    state INTEGER PRIMARY KEY,
    n     BIGINT NOT NULL
);
CREATE TABLE job_state_deltas (
    state INTEGER NOT NULL,
    n     BIGINT NOT NULL
);
INSERT INTO job_state_counts (state, n) SELECT state, count(*) FROM jobs GROUP BY state;
CREATE FUNCTION job_state_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO job_state_deltas (state, n) VALUES (OLD.state, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO job_state_deltas (state, n) VALUES (NEW.state, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_counted_insert_delete AFTER INSERT OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION job_state_counted();
CREATE TRIGGER jobs_counted_update AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION job_state_counted();
-- "name contains" over a trigram index where the pg_trgm extension can be created (a
-- superuser's or, since PostgreSQL 13, a database owner's right); elsewhere the search scans.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX jobs_name_trigrams ON jobs USING gin (lower(name) gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): the job list''s name search scans', SQLERRM;
END $$;
