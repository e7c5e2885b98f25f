-- A task is complete (Tilebox's COMPLETED) once it is computed and every subtask is complete,
-- or it failed optionally or was skipped: only then may the tasks that depend on it run.
-- Tasks done before this column existed count as complete when they stopped.
ALTER TABLE tasks ADD COLUMN completed_ns BIGINT;
UPDATE tasks SET completed_ns = COALESCE(stopped_ns, submitted_ns) WHERE state IN (3, 5, 6);
-- A parent's subtasks, to see whether all of them are complete.
CREATE INDEX tasks_by_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
