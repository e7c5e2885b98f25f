//! What the workflow store refuses before touching the database: bad submissions and slugs.

use super::{Cluster, NewJob, TaskSpec};
use crate::store::StoreError;

/// Longest job name, task identifier, display or cluster text, in bytes (span names are cut
/// at the same length on ingest): a megabyte-long name would be in every job list.
pub(super) const MAX_TEXT_BYTES: usize = 1024;
/// Longest cluster description, in bytes.
pub(super) const MAX_DESCRIPTION_BYTES: usize = 16 * 1024;

/// `text` (what it is: `what`) fits `max` bytes and holds no NUL, which PostgreSQL refuses.
pub(super) fn check_text(what: &str, text: &str, max: usize) -> Result<(), StoreError> {
    if text.len() > max {
        return Err(StoreError::InvalidArgument(format!(
            "{what} is {} bytes long; at most {max} are accepted",
            text.len()
        )));
    }
    if text.contains('\0') {
        return Err(StoreError::InvalidArgument(format!(
            "{what} must not contain NUL characters"
        )));
    }
    Ok(())
}

/// `text` without NUL (which PostgreSQL refuses) and cut to at most `max` bytes at a character
/// boundary: for texts a task's code writes, where refusing would fail the task's result.
pub(super) fn fitted_text(text: &str, max: usize) -> String {
    let mut fitted: String = text.chars().filter(|&c| c != '\0').collect();
    if fitted.len() > max {
        let mut cut = max;
        while !fitted.is_char_boundary(cut) {
            cut -= 1;
        }
        fitted.truncate(cut);
    }
    fitted
}

/// A submission's texts fit their limits (see [`check_text`]).
pub(super) fn validate_task_texts(tasks: &[TaskSpec]) -> Result<(), StoreError> {
    for (index, task) in tasks.iter().enumerate() {
        let field = |name: &str| format!("task {index}'s {name}");
        check_text(
            &field("identifier name"),
            &task.identifier_name,
            MAX_TEXT_BYTES,
        )?;
        check_text(
            &field("identifier version"),
            &task.identifier_version,
            MAX_TEXT_BYTES,
        )?;
        check_text(&field("display"), &task.display, MAX_TEXT_BYTES)?;
        check_text(&field("cluster"), &task.cluster_slug, MAX_TEXT_BYTES)?;
    }
    Ok(())
}

/// A job has a name and at least one task.
pub(super) fn validate_job(job: &NewJob) -> Result<(), StoreError> {
    check_text("the job name", &job.name, MAX_TEXT_BYTES)?;
    if job.name.trim().is_empty() {
        return Err(StoreError::InvalidArgument(
            "job name must not be empty".to_owned(),
        ));
    }
    if job.tasks.is_empty() {
        return Err(StoreError::InvalidArgument(
            "a job needs at least one task".to_owned(),
        ));
    }
    Ok(())
}

/// Dependencies point inside the submission and form no cycle, or the tasks could never run.
pub(super) fn validate_dependencies(tasks: &[TaskSpec]) -> Result<(), StoreError> {
    let mut pending: Vec<usize> = tasks.iter().map(|t| t.depends_on.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (index, task) in tasks.iter().enumerate() {
        for &dependency in &task.depends_on {
            if dependency >= tasks.len() || dependency == index {
                return Err(StoreError::InvalidArgument(format!(
                    "task {index} depends on task {dependency}, which is not another task of \
                     this submission"
                )));
            }
            dependents[dependency].push(index);
        }
    }
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| pending[i] == 0).collect();
    let mut seen = 0;
    while let Some(index) = ready.pop() {
        seen += 1;
        for &dependent in &dependents[index] {
            pending[dependent] -= 1;
            if pending[dependent] == 0 {
                ready.push(dependent);
            }
        }
    }
    if seen == tasks.len() {
        Ok(())
    } else {
        Err(StoreError::InvalidArgument(
            "task dependencies form a cycle".to_owned(),
        ))
    }
}

/// The cluster to create: its slug (from the display name if none is given) and display name
/// (the slug if none is given).
pub(super) fn new_cluster(cluster: &Cluster) -> Result<Cluster, StoreError> {
    check_text("the cluster slug", &cluster.slug, MAX_TEXT_BYTES)?;
    check_text("the cluster name", &cluster.display_name, MAX_TEXT_BYTES)?;
    check_text(
        "the cluster description",
        &cluster.description,
        MAX_DESCRIPTION_BYTES,
    )?;
    let slug = if cluster.slug.is_empty() {
        slugify(&cluster.display_name)
    } else {
        cluster.slug.clone()
    };
    if slug.is_empty() || slug != slugify(&slug) {
        return Err(StoreError::InvalidArgument(format!(
            "cluster slug {slug:?} must be lowercase letters, digits and dashes"
        )));
    }
    let display_name = if cluster.display_name.is_empty() {
        slug.clone()
    } else {
        cluster.display_name.clone()
    };
    Ok(Cluster {
        slug,
        display_name,
        description: cluster.description.clone(),
        is_default: false,
    })
}

/// `my Cluster_1` → `my-cluster-1`.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(depends_on: Vec<usize>) -> TaskSpec {
        TaskSpec {
            identifier_name: "T".to_owned(),
            identifier_version: "v0.0".to_owned(),
            display: "T".to_owned(),
            input: Vec::new(),
            cluster_slug: String::new(),
            max_retries: 0,
            optional: false,
            depends_on,
        }
    }

    #[test]
    fn test_dependencies_must_stay_inside_and_be_acyclic() {
        assert!(validate_dependencies(&[spec(vec![]), spec(vec![0]), spec(vec![0, 1])]).is_ok());
        assert!(
            validate_dependencies(&[spec(vec![1])]).is_err(),
            "out of range"
        );
        assert!(validate_dependencies(&[spec(vec![0])]).is_err(), "self");
        assert!(
            validate_dependencies(&[spec(vec![1]), spec(vec![0])]).is_err(),
            "cycle"
        );
    }

    #[test]
    fn test_long_or_nul_texts_are_refused_with_what_and_why() {
        let mut long = spec(vec![]);
        long.display = "x".repeat(MAX_TEXT_BYTES + 1);
        let error = validate_task_texts(&[spec(vec![]), long])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("task 1's display is 1025 bytes long"),
            "{error}"
        );
        let mut nul = spec(vec![]);
        nul.identifier_name = "T\0".to_owned();
        let error = validate_task_texts(&[nul])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("must not contain NUL"), "{error}");
        assert!(validate_task_texts(&[spec(vec![])]).is_ok());
    }

    #[test]
    fn test_slugify() {
        assert_eq!(slugify("My Cluster_1 "), "my-cluster-1");
        assert_eq!(slugify("--"), "");
    }

    #[test]
    fn test_new_cluster_fills_slug_and_name_from_each_other() {
        let named = |slug: &str, display_name: &str| Cluster {
            slug: slug.to_owned(),
            display_name: display_name.to_owned(),
            description: String::new(),
            is_default: false,
        };
        let made = |slug, display_name| {
            new_cluster(&named(slug, display_name))
                .ok()
                .map(|c| (c.slug, c.display_name))
        };
        assert_eq!(
            made("", "GPU Nodes"),
            Some(("gpu-nodes".to_owned(), "GPU Nodes".to_owned()))
        );
        assert_eq!(made("gpu", ""), Some(("gpu".to_owned(), "gpu".to_owned())));
        assert!(new_cluster(&named("GPU", "")).is_err(), "not a slug");
    }
}
