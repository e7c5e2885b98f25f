-- Job counts per state for the job list's chips (server/src/store/job_reads.rs): the chips of
-- the unfiltered list read these few rows instead of counting every job. SQLite has one writer,
-- so triggers keep `job_state_counts` itself; `job_state_deltas` (PostgreSQL's way, where
-- concurrent writers must not wait on one counter row) stays empty here.
CREATE TABLE job_state_counts (
    state INTEGER PRIMARY KEY,
    n     INTEGER NOT NULL
);
CREATE TABLE job_state_deltas (
    state INTEGER NOT NULL,
    n     INTEGER NOT NULL
);
INSERT INTO job_state_counts (state, n) SELECT state, count(*) FROM jobs GROUP BY state;
CREATE TRIGGER jobs_counted_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_state_counts (state, n) VALUES (new.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER jobs_counted_update AFTER UPDATE OF state ON jobs WHEN old.state IS NOT new.state
BEGIN
    UPDATE job_state_counts SET n = n - 1 WHERE state = old.state;
    INSERT INTO job_state_counts (state, n) VALUES (new.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER jobs_counted_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_state_counts SET n = n - 1 WHERE state = old.state;
END;

-- "name contains" over a trigram index (FTS5's trigram tokenizer, case-insensitive): the
-- job list's name search and its chips look names up in `job_names` instead of scanning every
-- job. Its rows are keyed by `jobs.seq`, a number each job gets once when it is inserted (the
-- rowid of a table without an INTEGER PRIMARY KEY may change in a VACUUM; `seq` does not).
ALTER TABLE jobs ADD COLUMN seq INTEGER;
UPDATE jobs SET seq = rowid;
CREATE UNIQUE INDEX jobs_by_seq ON jobs (seq);
CREATE VIRTUAL TABLE job_names USING fts5 (name, tokenize = 'trigram');
INSERT INTO job_names (rowid, name) SELECT seq, name FROM jobs;
CREATE TRIGGER jobs_named_insert AFTER INSERT ON jobs BEGIN
    UPDATE jobs SET seq = (SELECT coalesce(max(seq), 0) + 1 FROM jobs) WHERE rowid = new.rowid;
    INSERT INTO job_names (rowid, name) SELECT seq, name FROM jobs WHERE rowid = new.rowid;
END;
CREATE TRIGGER jobs_named_update AFTER UPDATE OF name ON jobs WHEN old.name IS NOT new.name
BEGIN
    UPDATE job_names SET name = new.name WHERE rowid = new.seq;
END;
CREATE TRIGGER jobs_named_delete AFTER DELETE ON jobs BEGIN
    DELETE FROM job_names WHERE rowid = old.seq;
END;
