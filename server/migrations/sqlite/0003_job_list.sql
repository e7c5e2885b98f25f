-- The job list's orders and its most common filter.
CREATE INDEX jobs_by_duration ON jobs ((end_ns - start_ns) DESC, id DESC);
CREATE INDEX jobs_by_state ON jobs (state, start_ns DESC, id DESC);
