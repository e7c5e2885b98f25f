-- What tells a task from its siblings (server/src/store/workflow/summary.rs): the first scalar
-- fields of its input, computed when it is submitted. Tasks stored before have none.
ALTER TABLE tasks ADD COLUMN input_summary TEXT NOT NULL DEFAULT '';
