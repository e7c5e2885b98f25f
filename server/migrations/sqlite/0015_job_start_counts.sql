-- The job list's chips over a time window (server/src/store/start_buckets.rs): jobs counted per
-- minute and per hour of their start (bucket = start_ns / width, `width_s` 60 or 3600), state and
-- whether they have errors, so "the last 24 hours" adds up a few hundred rows instead of counting
-- every job in it; the seconds at the window's ends are counted from `jobs`. SQLite has one
-- writer, so triggers keep the counts themselves, and a bucket that falls to zero is deleted (a
-- minute's running jobs all finish; retention deletes old jobs). `job_start_deltas` (PostgreSQL's
-- way) stays empty here.
CREATE TABLE job_start_counts (
    width_s INTEGER NOT NULL,
    bucket  INTEGER NOT NULL,
    state   INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (width_s, bucket, state, errored)
) WITHOUT ROWID;
CREATE TABLE job_start_deltas (
    width_s INTEGER NOT NULL,
    bucket  INTEGER NOT NULL,
    state   INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    n       INTEGER NOT NULL
);
INSERT INTO job_start_counts (width_s, bucket, state, errored, n)
    SELECT 60, start_ns / 60000000000, state, error_count > 0, count(*) FROM jobs
    GROUP BY 2, 3, 4;
INSERT INTO job_start_counts (width_s, bucket, state, errored, n)
    SELECT 3600, start_ns / 3600000000000, state, error_count > 0, count(*) FROM jobs
    GROUP BY 2, 3, 4;
CREATE TRIGGER jobs_start_counted_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_start_counts (width_s, bucket, state, errored, n) VALUES
        (60, new.start_ns / 60000000000, new.state, new.error_count > 0, 1),
        (3600, new.start_ns / 3600000000000, new.state, new.error_count > 0, 1)
        ON CONFLICT (width_s, bucket, state, errored) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER jobs_start_counted_update AFTER UPDATE OF state, start_ns, error_count ON jobs
    WHEN old.state IS NOT new.state
        OR old.start_ns / 60000000000 IS NOT new.start_ns / 60000000000
        OR (old.error_count > 0) IS NOT (new.error_count > 0)
BEGIN
    INSERT INTO job_start_counts (width_s, bucket, state, errored, n) VALUES
        (60, old.start_ns / 60000000000, old.state, old.error_count > 0, -1),
        (3600, old.start_ns / 3600000000000, old.state, old.error_count > 0, -1),
        (60, new.start_ns / 60000000000, new.state, new.error_count > 0, 1),
        (3600, new.start_ns / 3600000000000, new.state, new.error_count > 0, 1)
        ON CONFLICT (width_s, bucket, state, errored) DO UPDATE SET n = n + excluded.n;
    DELETE FROM job_start_counts WHERE n = 0 AND (width_s, bucket, state, errored) IN (VALUES
        (60, old.start_ns / 60000000000, old.state, old.error_count > 0),
        (3600, old.start_ns / 3600000000000, old.state, old.error_count > 0));
END;
CREATE TRIGGER jobs_start_counted_delete AFTER DELETE ON jobs BEGIN
    INSERT INTO job_start_counts (width_s, bucket, state, errored, n) VALUES
        (60, old.start_ns / 60000000000, old.state, old.error_count > 0, -1),
        (3600, old.start_ns / 3600000000000, old.state, old.error_count > 0, -1)
        ON CONFLICT (width_s, bucket, state, errored) DO UPDATE SET n = n + excluded.n;
    DELETE FROM job_start_counts WHERE n = 0 AND (width_s, bucket, state, errored) IN (VALUES
        (60, old.start_ns / 60000000000, old.state, old.error_count > 0),
        (3600, old.start_ns / 3600000000000, old.state, old.error_count > 0));
END;
