-- Progress indicators per job: what finished tasks reported (`context.progress(label)`), summed
-- per label over tasks and attempts. '' is the unlabeled indicator.
CREATE TABLE job_progress (
    job_id BLOB NOT NULL,
    label  TEXT NOT NULL,
    total  INTEGER NOT NULL,
    done   INTEGER NOT NULL,
    PRIMARY KEY (job_id, label)
);
