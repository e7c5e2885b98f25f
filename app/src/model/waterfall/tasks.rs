//! How a workflow job's tasks sit on its spans: attempts, dependencies, running stand-ins, and
//! what each row shows of its task.

use std::collections::{HashMap, HashSet};

use crate::model::{SpanOutline, StatusCode, TaskView};

/// How a workflow job's tasks map onto its spans: each task's attempt spans, and which task
/// waited for which.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskOverlay {
    /// Per task (index into the tasks): its attempt spans (`task/…` spans with its `task_id`)
    /// by start time.
    pub attempts: Vec<Vec<usize>>,
    /// Per span that is a task attempt: `(task index, attempt number from 1)`.
    pub attempt_of: HashMap<usize, (usize, usize)>,
    /// `(dependency, dependent)` task indices: the dependent waited for the dependency.
    pub edges: Vec<(usize, usize)>,
}

impl TaskOverlay {
    pub fn build(spans: &[SpanOutline], tasks: &[TaskView]) -> Self {
        let task_index: HashMap<&str, usize> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let mut attempts = vec![Vec::new(); tasks.len()];
        for (index, span) in spans.iter().enumerate() {
            if !span.name.starts_with("task/") {
                continue;
            }
            let task = span.task_id.as_deref().and_then(|id| task_index.get(id));
            if let Some(&task) = task {
                attempts[task].push(index);
            }
        }
        let mut attempt_of = HashMap::new();
        for (task, list) in attempts.iter_mut().enumerate() {
            list.sort_by_key(|&i| spans[i].start_ns);
            for (n, &span) in list.iter().enumerate() {
                attempt_of.insert(span, (task, n + 1));
            }
        }
        let edges = tasks
            .iter()
            .enumerate()
            .flat_map(|(dependent, task)| {
                task.depends_on
                    .iter()
                    .filter_map(|id| task_index.get(id.as_str()).copied())
                    .map(move |dependency| (dependency, dependent))
            })
            .collect();
        TaskOverlay {
            attempts,
            attempt_of,
            edges,
        }
    }

    /// Tasks `task` waited for, and tasks that waited for it.
    pub fn neighbours(&self, task: usize) -> (Vec<usize>, Vec<usize>) {
        let before = self
            .edges
            .iter()
            .filter(|e| e.1 == task)
            .map(|e| e.0)
            .collect();
        let after = self
            .edges
            .iter()
            .filter(|e| e.0 == task)
            .map(|e| e.1)
            .collect();
        (before, after)
    }
}

/// Stand-ins for task attempts that are running now: a span is exported only when it ends, so
/// until then the attempt (known from the task's state) is drawn from its start, growing with
/// the clock. Named `task/<display>`, id `running-<task id>`, under the job's root span; `end_ns`
/// is its start (the page extends it).
pub fn running_attempts(spans: &[SpanOutline], tasks: &[TaskView]) -> Vec<SpanOutline> {
    let root = spans
        .iter()
        .find(|s| s.parent_span_id.is_none() && s.name.starts_with("job/"));
    tasks
        .iter()
        .filter_map(|task| {
            let attempt = task.attempts.last()?;
            if attempt.outcome != "running" {
                return None;
            }
            // Its span may have arrived already (the attempt ended since the state was read).
            let arrived = spans.iter().any(|s| {
                s.name.starts_with("task/")
                    && s.start_ns >= attempt.started_ns - 1_000_000
                    && s.task_id.as_deref() == Some(&task.id)
            });
            if arrived {
                return None;
            }
            Some(SpanOutline {
                span_id: format!("running-{}", task.id),
                parent_span_id: root.map(|r| r.span_id.clone()),
                name: format!("task/{}", task.display),
                start_ns: attempt.started_ns,
                end_ns: attempt.started_ns,
                status_code: StatusCode::Unset,
                status_message: "running".into(),
                service: String::new(),
                runner: attempt.runner.clone(),
                task_id: Some(task.id.clone()),
                has_events: false,
            })
        })
        .collect()
}

/// What a row knows about its span's task (workflow jobs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowTask {
    /// `(attempt, attempts)` when the task ran more than once.
    pub attempt: Option<(usize, usize)>,
    /// Submitted → first attempt's start, for the first attempt's row.
    pub queued_from_ns: Option<i64>,
}

/// Per task attempt span: its attempt number (when there were several) and, for the first
/// attempt, when the task was submitted (when that was before the attempt started).
pub fn row_tasks(
    overlay: &TaskOverlay,
    spans: &[SpanOutline],
    tasks: &[TaskView],
) -> HashMap<usize, RowTask> {
    overlay
        .attempt_of
        .iter()
        .map(|(&span, &(task, attempt))| {
            let total = overlay.attempts[task].len();
            let submitted = tasks[task].submitted_ns;
            let queued = (attempt == 1 && submitted > 0 && submitted < spans[span].start_ns)
                .then_some(submitted);
            let info = RowTask {
                attempt: (total > 1).then_some((attempt, total)),
                queued_from_ns: queued,
            };
            (span, info)
        })
        .collect()
}

/// The attempt spans of the tasks the selected span's task waited for, and of those that
/// waited for it; both empty when nothing (or no task's span) is selected.
pub fn neighbour_spans(
    overlay: &TaskOverlay,
    selected: Option<usize>,
) -> (HashSet<usize>, HashSet<usize>) {
    let Some(task) = selected.and_then(|span| overlay.attempt_of.get(&span).map(|a| a.0)) else {
        return (HashSet::new(), HashSet::new());
    };
    let (before, after) = overlay.neighbours(task);
    let spans_of = |tasks: Vec<usize>| -> HashSet<usize> {
        tasks
            .into_iter()
            .flat_map(|t| overlay.attempts[t].iter().copied())
            .collect()
    };
    (spans_of(before), spans_of(after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waterfall::fixtures::{attempt, span, task};

    #[test]
    fn test_overlay_groups_attempts_and_dependencies() {
        let mut root = span("job/x", "", 0, 100);
        root.span_id = "root".into();
        let spans = vec![
            root,
            attempt("a", "root", 0, 10),
            attempt("b", "root", 20, 30),
            attempt("a", "root", 12, 18), // a's retry
        ];
        let tasks = vec![task("a", &[]), task("b", &["a"])];
        let overlay = TaskOverlay::build(&spans, &tasks);
        assert_eq!(overlay.attempts, vec![vec![1, 3], vec![2]]);
        assert_eq!(overlay.attempt_of[&3], (0, 2));
        assert_eq!(overlay.edges, vec![(0, 1)]);
        assert_eq!(overlay.neighbours(1), (vec![0], vec![]));
        assert_eq!(overlay.neighbours(0), (vec![], vec![1]));
    }

    #[test]
    fn test_running_attempt_without_its_span_gets_a_stand_in() {
        let mut root = span("job/x", "", 0, 10);
        root.span_id = "root".into();
        let mut waiting = task("slow", &[]);
        waiting.display = "Slow".into();
        waiting.attempts.push(crate::model::TaskAttempt {
            number: 1,
            runner: "127.0.0.1:1".into(),
            started_ns: 50,
            stopped_ns: None,
            outcome: "running".into(),
            error: String::new(),
        });
        let mut done = waiting.clone();
        done.id = "done".into();
        done.attempts[0].outcome = "computed".into();
        let spans = vec![root];
        let stand_ins = running_attempts(&spans, &[waiting.clone(), done]);
        assert_eq!(stand_ins.len(), 1, "only the running one");
        assert_eq!(stand_ins[0].name, "task/Slow");
        assert_eq!(stand_ins[0].parent_span_id.as_deref(), Some("root"));
        assert_eq!(stand_ins[0].start_ns, 50);
        // Once its span arrived, no stand-in.
        let mut arrived = spans;
        arrived.push(attempt("slow", "root", 50, 90));
        assert!(running_attempts(&arrived, &[waiting]).is_empty());
    }

    fn retried_job() -> (Vec<SpanOutline>, Vec<TaskView>) {
        let mut root = span("job/x", "", 0, 100);
        root.span_id = "root".into();
        let spans = vec![
            root,
            attempt("a", "root", 10, 20),
            attempt("b", "root", 40, 50),
            attempt("a", "root", 22, 30), // a's retry
            attempt("c", "root", 60, 70),
        ];
        let mut a = task("a", &[]);
        a.submitted_ns = 5;
        let mut b = task("b", &["a"]);
        b.submitted_ns = 45; // after its span's start: no queue bar
        let c = task("c", &["b"]); // never submitted time known
        (spans, vec![a, b, c])
    }

    #[test]
    fn test_row_tasks_number_retries_and_queue_the_first_attempt() {
        let (spans, tasks) = retried_job();
        let overlay = TaskOverlay::build(&spans, &tasks);
        let rows = row_tasks(&overlay, &spans, &tasks);
        assert_eq!(rows.len(), 4, "every attempt span, not the root");
        assert_eq!(
            rows[&1],
            RowTask {
                attempt: Some((1, 2)),
                queued_from_ns: Some(5)
            }
        );
        assert_eq!(
            rows[&3],
            RowTask {
                attempt: Some((2, 2)),
                queued_from_ns: None
            },
            "a retry does not queue again"
        );
        assert_eq!(rows[&2], RowTask::default(), "submitted after its start");
        assert_eq!(rows[&4], RowTask::default(), "no submission time");
    }

    #[test]
    fn test_neighbour_spans_are_the_dependencies_and_dependents_attempts() {
        let (spans, tasks) = retried_job();
        let overlay = TaskOverlay::build(&spans, &tasks);
        // b waited for a (both of its attempts); c waited for b.
        let (before, after) = neighbour_spans(&overlay, Some(2));
        assert_eq!(before, HashSet::from([1, 3]));
        assert_eq!(after, HashSet::from([4]));
        // The root is no task; nothing selected.
        assert_eq!(neighbour_spans(&overlay, Some(0)), Default::default());
        assert_eq!(neighbour_spans(&overlay, None), Default::default());
    }
}
