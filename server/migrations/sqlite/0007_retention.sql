-- Log records by time: retention deletes the oldest ones that belong to no job (outside any
-- trace, or of a trace without a job), and cross-job log queries by time range use it.
CREATE INDEX logs_by_time ON logs (time_ns);
