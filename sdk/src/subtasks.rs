//! Subtasks: submitted from a running task's context, sent with its computed report as groups.

use crate::context::{ExecutionContext, FutureTask, Subtask, SubtaskOptions};
use crate::error::Error;
use crate::proto::workflows::v1 as wf;
use crate::task::{Task, encode_input};
use crate::task_identifier::{TaskIdentifier, type_display};

impl ExecutionContext {
    /// Submits a subtask with default options.
    pub fn submit_subtask<T: Task>(&mut self, task: &T) -> Result<FutureTask, Error> {
        self.submit_subtask_with(task, SubtaskOptions::default())
    }

    /// Submits a subtask that may depend on earlier subtasks of this task.
    pub fn submit_subtask_with<T: Task>(
        &mut self,
        task: &T,
        options: SubtaskOptions,
    ) -> Result<FutureTask, Error> {
        let identifier = T::identifier();
        identifier.validate()?;
        let index = self.subtasks_mut().len();
        if let Some(FutureTask(bad)) = options.depends_on.iter().find(|d| d.0 >= index) {
            return Err(Error::Submission(format!(
                "subtask {index} depends on subtask {bad}, which was not submitted before it"
            )));
        }
        let mut depends_on: Vec<usize> = options.depends_on.iter().map(|d| d.0).collect();
        depends_on.sort_unstable();
        depends_on.dedup();
        self.subtasks_mut().push(Subtask {
            identifier,
            input: encode_input(task)?,
            display: type_display::<T>(),
            cluster: options.cluster,
            max_retries: options.max_retries,
            optional: options.optional,
            depends_on,
        });
        Ok(FutureTask(index))
    }

    /// Submits several subtasks with the same options.
    pub fn submit_subtasks<T: Task>(
        &mut self,
        tasks: &[T],
        options: &SubtaskOptions,
    ) -> Result<Vec<FutureTask>, Error> {
        tasks
            .iter()
            .map(|task| self.submit_subtask_with(task, options.clone()))
            .collect()
    }
}

/// Subtasks as the Python client groups them: one group per task here (each group's
/// dependencies are exactly its task's), lookups deduplicated in first-seen order.
pub(crate) fn submissions(
    subtasks: &[Subtask],
    runner_cluster: &str,
) -> Option<wf::TaskSubmissions> {
    if subtasks.is_empty() {
        return None;
    }
    let mut out = wf::TaskSubmissions::default();
    let lookup = |list: &mut Vec<String>, value: &str| -> u64 {
        let index = list.iter().position(|v| v == value).unwrap_or_else(|| {
            list.push(value.to_owned());
            list.len() - 1
        });
        index as u64
    };
    let mut identifiers: Vec<TaskIdentifier> = Vec::new();
    for subtask in subtasks {
        let cluster = subtask.cluster.as_deref().unwrap_or(runner_cluster);
        let identifier = identifiers
            .iter()
            .position(|i| *i == subtask.identifier)
            .unwrap_or_else(|| {
                identifiers.push(subtask.identifier.clone());
                identifiers.len() - 1
            });
        out.task_groups.push(wf::TaskSubmissionGroup {
            dependencies_on_other_groups: subtask
                .depends_on
                .iter()
                .map(|d| u32::try_from(*d).unwrap_or(u32::MAX))
                .collect(),
            inputs: vec![subtask.input.clone()],
            identifier_pointers: vec![identifier as u64],
            cluster_slug_pointers: vec![lookup(&mut out.cluster_slug_lookup, cluster)],
            display_pointers: vec![lookup(&mut out.display_lookup, &subtask.display)],
            max_retries_values: vec![subtask.max_retries],
            optional_values: vec![subtask.optional],
        });
    }
    out.identifier_lookup = identifiers
        .into_iter()
        .map(|i| wf::TaskIdentifier {
            name: i.name,
            version: i.version,
        })
        .collect();
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subtask(name: &str, depends_on: Vec<usize>, cluster: Option<&str>) -> Subtask {
        Subtask {
            identifier: TaskIdentifier::new(name, "v0.0"),
            input: b"1".to_vec(),
            display: name.to_owned(),
            cluster: cluster.map(str::to_owned),
            max_retries: 2,
            optional: false,
            depends_on,
        }
    }

    #[test]
    fn test_subtasks_become_groups_with_deduplicated_lookups() {
        let subtasks = [
            subtask("Tile", vec![], None),
            subtask("Tile", vec![], Some("gpu")),
            subtask("Merge", vec![0, 1], None),
        ];
        let out = submissions(&subtasks, "cpu").unwrap();
        assert_eq!(out.task_groups.len(), 3);
        assert_eq!(out.cluster_slug_lookup, ["cpu", "gpu"]);
        assert_eq!(out.identifier_lookup.len(), 2);
        assert_eq!(out.display_lookup, ["Tile", "Merge"]);
        assert_eq!(out.task_groups[2].dependencies_on_other_groups, [0, 1]);
        assert_eq!(out.task_groups[1].cluster_slug_pointers, [1]);
        assert_eq!(out.task_groups[2].identifier_pointers, [1]);
        assert!(submissions(&[], "cpu").is_none());
    }
}
