-- Progress indicators per job: what finished tasks reported (`context.progress(label)`), summed
-- per label over tasks and attempts. '' is the unlabeled indicator.
CREATE TABLE job_progress (
    job_id BYTEA NOT NULL,
    label  TEXT NOT NULL,
    total  BIGINT NOT NULL,
    done   BIGINT NOT NULL,
    PRIMARY KEY (job_id, label)
);
