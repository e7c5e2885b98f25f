-- Log records by time: retention deletes the oldest ones that belong to no job (outside any
-- trace, or of a trace without a job), and cross-job log queries by time range use it.
CREATE INDEX logs_by_time ON logs (time_ns);
-- The queue in claim order: a claim reads one task name's runnable tasks by (submitted_ns, id)
-- straight off the index. Without the id, tasks submitted together (a fan-out's subtasks share
-- one submitted_ns) were all read and sorted for every claim.
DROP INDEX tasks_queued;
CREATE INDEX tasks_queued ON tasks (cluster_slug, identifier_name, submitted_ns, id) WHERE state = 1 AND pending_deps = 0;
-- A job's tasks by state, kept by triggers as tasks are added, change state or go: the job's
-- state is recomputed from these on every claim and completion, which counted all of a job's
-- tasks each time (10,000 rows per call in a 10,000-task fan-out).
CREATE TABLE job_task_counts (
    job_id BLOB NOT NULL,
    state  INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (job_id, state)
);
INSERT INTO job_task_counts (job_id, state, n) SELECT job_id, state, count(*) FROM tasks GROUP BY job_id, state;
CREATE TRIGGER tasks_counted_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO job_task_counts (job_id, state, n) VALUES (NEW.job_id, NEW.state, 1)
        ON CONFLICT (job_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tasks_counted_update AFTER UPDATE OF state ON tasks WHEN OLD.state <> NEW.state BEGIN
    UPDATE job_task_counts SET n = n - 1 WHERE job_id = OLD.job_id AND state = OLD.state;
    INSERT INTO job_task_counts (job_id, state, n) VALUES (NEW.job_id, NEW.state, 1)
        ON CONFLICT (job_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tasks_counted_delete AFTER DELETE ON tasks BEGIN
    UPDATE job_task_counts SET n = n - 1 WHERE job_id = OLD.job_id AND state = OLD.state;
END;
-- A trace's spans in the order the job page reads them (start, then span id): the span id in
-- the index spares a sort of every span on each page load.
DROP INDEX spans_by_trace_start;
CREATE INDEX spans_by_trace_start ON spans (trace_id, start_ns, span_id);
