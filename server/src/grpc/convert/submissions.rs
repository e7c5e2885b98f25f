//! Task submissions off the wire: the column-encoded groups and the older one-per-task list.

use tonic::Status;

use crate::grpc::proto::workflows::v1 as wf;
use crate::store::workflow::TaskSpec;

/// Most tasks one submission (a job or a task's subtasks) may carry.
const MAX_TASKS: usize = 100_000;
/// Most dependency edges one submission may carry.
const MAX_DEPENDENCIES: usize = 2_000_000;

/// Flattens the column-encoded `TaskSubmissions` into one spec per task. Every task of a group
/// depends on every task of the groups it lists.
pub fn task_specs(submissions: &wf::TaskSubmissions) -> Result<Vec<TaskSpec>, Status> {
    let invalid = |what: &str| Status::invalid_argument(format!("task submission: {what}"));
    let mut first_index = Vec::with_capacity(submissions.task_groups.len());
    let mut total = 0usize;
    for group in &submissions.task_groups {
        first_index.push(total);
        total += group.inputs.len();
    }
    if total > MAX_TASKS {
        return Err(invalid(&format!(
            "more than {MAX_TASKS} tasks in one submission"
        )));
    }
    // Every task of a group depends on every task of the groups it names: count the edges
    // before materialising them, so a small request cannot ask for billions.
    let mut edges = 0usize;
    for group in &submissions.task_groups {
        let mut groups = group.dependencies_on_other_groups.clone();
        groups.sort_unstable();
        groups.dedup();
        let per_task: usize = groups
            .iter()
            .filter_map(|&g| submissions.task_groups.get(g as usize))
            .map(|g| g.inputs.len())
            .sum();
        edges = edges.saturating_add(per_task.saturating_mul(group.inputs.len()));
    }
    if edges > MAX_DEPENDENCIES {
        return Err(invalid(&format!(
            "more than {MAX_DEPENDENCIES} task dependencies in one submission"
        )));
    }
    let mut specs = Vec::with_capacity(total);
    for group in &submissions.task_groups {
        let mut depends_on = Vec::new();
        let mut groups = group.dependencies_on_other_groups.clone();
        groups.sort_unstable();
        groups.dedup();
        for dependency in groups {
            let dependency = dependency as usize;
            let dep_group = submissions
                .task_groups
                .get(dependency)
                .ok_or_else(|| invalid("dependency on a group that does not exist"))?;
            let start = first_index[dependency];
            depends_on.extend(start..start + dep_group.inputs.len());
        }
        for (i, input) in group.inputs.iter().enumerate() {
            let pointer = |values: &[u64], what: &str| -> Result<usize, Status> {
                values
                    .get(i)
                    .map(|&p| p as usize)
                    .ok_or_else(|| invalid(&format!("missing {what} pointer")))
            };
            let identifier = submissions
                .identifier_lookup
                .get(pointer(&group.identifier_pointers, "identifier")?)
                .ok_or_else(|| invalid("identifier pointer out of range"))?;
            let cluster_slug = match group.cluster_slug_pointers.get(i) {
                Some(&p) => submissions
                    .cluster_slug_lookup
                    .get(p as usize)
                    .cloned()
                    .ok_or_else(|| invalid("cluster pointer out of range"))?,
                None => String::new(),
            };
            let display = match group.display_pointers.get(i) {
                Some(&p) => submissions
                    .display_lookup
                    .get(p as usize)
                    .cloned()
                    .ok_or_else(|| invalid("display pointer out of range"))?,
                None => identifier.name.clone(),
            };
            if identifier.name.is_empty() {
                return Err(invalid("task identifier name must not be empty"));
            }
            specs.push(TaskSpec {
                identifier_name: identifier.name.clone(),
                identifier_version: identifier.version.clone(),
                display,
                input: input.clone(),
                cluster_slug,
                max_retries: group.max_retries_values.get(i).copied().unwrap_or(0),
                optional: group.optional_values.get(i).copied().unwrap_or(false),
                depends_on: depends_on.clone(),
            });
        }
    }
    Ok(specs)
}

/// The older one-message-per-task form; dependencies are indices into the list.
pub fn legacy_task_specs(tasks: &[wf::SingleTaskSubmission]) -> Result<Vec<TaskSpec>, Status> {
    if tasks.len() > MAX_TASKS {
        return Err(Status::invalid_argument(format!(
            "task submission: more than {MAX_TASKS} tasks in one submission"
        )));
    }
    let edges: usize = tasks.iter().map(|t| t.dependencies.len()).sum();
    if edges > MAX_DEPENDENCIES {
        return Err(Status::invalid_argument(format!(
            "task submission: more than {MAX_DEPENDENCIES} task dependencies"
        )));
    }
    tasks
        .iter()
        .map(|task| {
            let identifier = task.identifier.clone().unwrap_or_default();
            let depends_on = task
                .dependencies
                .iter()
                .map(|&d| usize::try_from(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    Status::invalid_argument("task submission: negative dependency index")
                })?;
            Ok(TaskSpec {
                display: if task.display.is_empty() {
                    identifier.name.clone()
                } else {
                    task.display.clone()
                },
                identifier_name: identifier.name,
                identifier_version: identifier.version,
                input: task.input.clone(),
                cluster_slug: task.cluster_slug.clone(),
                max_retries: task.max_retries,
                optional: false,
                depends_on,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_grouped_submission_flattens_with_dependencies() {
        let submissions = wf::TaskSubmissions {
            task_groups: vec![
                wf::TaskSubmissionGroup {
                    inputs: vec![b"1".to_vec(), b"2".to_vec()],
                    identifier_pointers: vec![0, 0],
                    cluster_slug_pointers: vec![0, 0],
                    display_pointers: vec![0, 0],
                    max_retries_values: vec![2, 0],
                    optional_values: vec![false, true],
                    dependencies_on_other_groups: vec![],
                },
                wf::TaskSubmissionGroup {
                    inputs: vec![Vec::new()],
                    identifier_pointers: vec![1],
                    cluster_slug_pointers: vec![0],
                    display_pointers: vec![1],
                    max_retries_values: vec![0],
                    optional_values: vec![false],
                    dependencies_on_other_groups: vec![0],
                },
            ],
            cluster_slug_lookup: vec![String::new()],
            identifier_lookup: vec![
                wf::TaskIdentifier {
                    name: "Tile".into(),
                    version: "v1.0".into(),
                },
                wf::TaskIdentifier {
                    name: "Merge".into(),
                    version: "v0.0".into(),
                },
            ],
            display_lookup: vec!["Tile".into(), "Merge".into()],
        };
        let specs = task_specs(&submissions).unwrap_or_default();
        assert_eq!(specs.len(), 3);
        assert_eq!((specs[0].max_retries, specs[1].optional), (2, true));
        assert_eq!(specs[2].identifier_name, "Merge");
        assert_eq!(specs[2].depends_on, vec![0, 1]);
        let mut broken = submissions;
        broken.task_groups[1].identifier_pointers = vec![7];
        assert!(task_specs(&broken).is_err());
    }

    #[test]
    fn test_submission_with_too_many_dependencies_is_rejected_before_allocating() {
        let group = |inputs: usize, deps: Vec<u32>| wf::TaskSubmissionGroup {
            inputs: vec![Vec::new(); inputs],
            identifier_pointers: vec![0; inputs],
            dependencies_on_other_groups: deps,
            ..wf::TaskSubmissionGroup::default()
        };
        let submissions = wf::TaskSubmissions {
            task_groups: vec![group(50_000, vec![]), group(50_000, vec![0, 0, 0])],
            identifier_lookup: vec![wf::TaskIdentifier {
                name: "T".into(),
                version: "v0.0".into(),
            }],
            ..wf::TaskSubmissions::default()
        };
        let error = task_specs(&submissions).err().map(|e| e.code());
        assert_eq!(error, Some(tonic::Code::InvalidArgument));
    }

    #[test]
    fn test_negative_legacy_dependency_is_rejected() {
        let task = wf::SingleTaskSubmission {
            dependencies: vec![-1],
            ..wf::SingleTaskSubmission::default()
        };
        assert!(legacy_task_specs(&[task]).is_err());
    }
}
