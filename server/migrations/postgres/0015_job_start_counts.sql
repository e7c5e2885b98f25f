-- The job list's chips over a time window (server/src/store/start_buckets.rs): jobs counted per
-- minute and per hour of their start (bucket = start_ns / width, `width_s` 60 or 3600), state and
-- whether they have errors, so "the last 24 hours" adds up a few hundred rows instead of counting
-- every job in it; the seconds at the window's ends are counted from `jobs`. As with
-- `job_state_counts` (0012), the triggers append +1/-1 rows to `job_start_deltas` (a shared
-- counter row would make every transaction that creates or finishes a job in the same minute
-- wait for the others); readers add them in, and every server folds them once a second
-- (`TraceStore::fold_job_state_counts`), deleting the buckets that fell to zero.
-- No job changes between the count below and the trigger's creation: an older replica that
-- still writes waits for this migration.
LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE job_start_counts (
    width_s INTEGER NOT NULL,
    bucket  BIGINT NOT NULL,
    state   INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (width_s, bucket, state, errored) INCLUDE (n)
);
CREATE TABLE job_start_deltas (
    width_s INTEGER NOT NULL,
    bucket  BIGINT NOT NULL,
    state   INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    n       BIGINT NOT NULL
);
INSERT INTO job_start_counts (width_s, bucket, state, errored, n)
    SELECT w, start_ns / (w * 1000000000::BIGINT), state, (error_count > 0)::INTEGER, count(*)
    FROM jobs, (VALUES (60), (3600)) widths (w)
    GROUP BY 1, 2, 3, 4;
CREATE FUNCTION job_start_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO job_start_deltas (width_s, bucket, state, errored, n) VALUES
            (60, OLD.start_ns / 60000000000, OLD.state, (OLD.error_count > 0)::INTEGER, -1),
            (3600, OLD.start_ns / 3600000000000, OLD.state, (OLD.error_count > 0)::INTEGER, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO job_start_deltas (width_s, bucket, state, errored, n) VALUES
            (60, NEW.start_ns / 60000000000, NEW.state, (NEW.error_count > 0)::INTEGER, 1),
            (3600, NEW.start_ns / 3600000000000, NEW.state, (NEW.error_count > 0)::INTEGER, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_start_counted_insert_delete AFTER INSERT OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION job_start_counted();
CREATE TRIGGER jobs_start_counted_update AFTER UPDATE OF state, start_ns, error_count ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
        OR OLD.start_ns / 60000000000 IS DISTINCT FROM NEW.start_ns / 60000000000
        OR (OLD.error_count > 0) IS DISTINCT FROM (NEW.error_count > 0))
    EXECUTE FUNCTION job_start_counted();
