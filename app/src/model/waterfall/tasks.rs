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
    let names = runner_names(spans, tasks);
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
                runner: names
                    .get(&attempt.runner)
                    .cloned()
                    .unwrap_or_else(|| attempt.runner.clone()),
                task_id: Some(task.id.clone()),
                has_events: false,
            })
        })
        .collect()
}

/// How the spans name the runners the server knows by connection: the server sees a runner
/// claim as the name it reports (the Rust SDK) or its connection's address (the Python client),
/// its spans name it by their resource. Each attempt whose span arrived (its task's `task/…`
/// span nearest in start, within a minute) ties the two; a running attempt on the same
/// connection is then drawn in that runner's lane instead of a lane of its own.
pub fn runner_names(spans: &[SpanOutline], tasks: &[TaskView]) -> HashMap<String, String> {
    let mut by_task: HashMap<&str, Vec<&SpanOutline>> = HashMap::new();
    for span in spans {
        if let Some(task) = span.task_id.as_deref()
            && span.name.starts_with("task/")
            && !span.runner.is_empty()
        {
            by_task.entry(task).or_default().push(span);
        }
    }
    let mut names = HashMap::new();
    for task in tasks {
        let Some(candidates) = by_task.get(task.id.as_str()) else {
            continue;
        };
        for attempt in &task.attempts {
            let nearest = candidates
                .iter()
                .min_by_key(|s| (s.start_ns - attempt.started_ns).abs())
                .filter(|s| (s.start_ns - attempt.started_ns).abs() < 60_000_000_000);
            if let Some(span) = nearest {
                names.insert(attempt.runner.clone(), span.runner.clone());
            }
        }
    }
    names
}

/// What a row knows about its span's task (workflow jobs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowTask {
    /// `(attempt, attempts)` when the task ran more than once.
    pub attempt: Option<(usize, usize)>,
    /// Submitted → first attempt's start, for the first attempt's row.
    pub queued_from_ns: Option<i64>,
    /// For a first attempt that waited for dependencies: when the last of them (with all its
    /// subtasks) was done, between submission and the start. Before it the task waited for its
    /// dependencies, after it for a runner.
    pub ready_ns: Option<i64>,
    /// What tells the task from its siblings ([`TaskView::tag`] beside a `task/<display>` name).
    pub tag: String,
}

/// Per task attempt span: its attempt number (when there were several) and, for the first
/// attempt, when the task was submitted (when that was before the attempt started).
pub fn row_tasks(
    overlay: &TaskOverlay,
    spans: &[SpanOutline],
    tasks: &[TaskView],
) -> HashMap<usize, RowTask> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let done = subtree_done_ns(tasks, &index);
    overlay
        .attempt_of
        .iter()
        .map(|(&span, &(task, attempt))| {
            let total = overlay.attempts[task].len();
            let submitted = tasks[task].submitted_ns;
            let start = spans[span].start_ns;
            let queued = (attempt == 1 && submitted > 0 && submitted < start).then_some(submitted);
            let ready = queued.and_then(|from| {
                tasks[task]
                    .depends_on
                    .iter()
                    .filter_map(|id| index.get(id.as_str()).and_then(|&d| done[d]))
                    .max()
                    .filter(|&ready| ready > from && ready <= start)
            });
            let info = RowTask {
                attempt: (total > 1).then_some((attempt, total)),
                queued_from_ns: queued,
                ready_ns: ready,
                tag: tasks[task].tag(&spans[span].name),
            };
            (span, info)
        })
        .collect()
}

/// Per task, when it and all its subtasks had stopped (`None` while any has not): when a task
/// depending on it could start.
/// `index`: task id → index into `tasks`.
fn subtree_done_ns(tasks: &[TaskView], index: &HashMap<&str, usize>) -> Vec<Option<i64>> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        if let Some(&parent) = task.parent_id.as_deref().and_then(|p| index.get(p)) {
            children[parent].push(i);
        }
    }
    // Post-order without recursion: a subtree is done when its root and every child subtree is.
    let mut done: Vec<Option<Option<i64>>> = vec![None; tasks.len()];
    for root in 0..tasks.len() {
        let mut stack = vec![(root, false)];
        while let Some((at, expanded)) = stack.pop() {
            if done[at].is_some() {
                continue;
            }
            if !expanded {
                stack.push((at, true));
                stack.extend(children[at].iter().map(|&c| (c, false)));
                continue;
            }
            let mut latest = tasks[at].stopped_ns;
            for &child in &children[at] {
                latest = match (latest, done[child].flatten()) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            done[at] = Some(latest);
        }
    }
    done.into_iter().map(Option::flatten).collect()
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
    use crate::model::waterfall::fixtures::{attempt, root, task};

    #[test]
    fn test_overlay_groups_attempts_and_dependencies() {
        let root = root(100);
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
        let root = root(10);
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
        let root = root(100);
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
                queued_from_ns: Some(5),
                ..RowTask::default()
            }
        );
        assert_eq!(
            rows[&3],
            RowTask {
                attempt: Some((2, 2)),
                ..RowTask::default()
            },
            "a retry does not queue again"
        );
        assert_eq!(rows[&2], RowTask::default(), "submitted after its start");
        assert_eq!(rows[&4], RowTask::default(), "no submission time");
    }

    #[test]
    fn test_a_dependent_waits_for_its_dependencies_subtrees_then_for_a_runner() {
        let root = root(100);
        let spans = vec![
            root,
            attempt("a", "root", 10, 20),
            attempt("child", "root", 20, 40),
            attempt("mosaic", "root", 50, 60),
        ];
        let mut a = task("a", &[]);
        a.stopped_ns = Some(20);
        let mut child = task("child", &[]);
        child.parent_id = Some("a".into());
        child.stopped_ns = Some(40);
        let mut mosaic = task("mosaic", &["a"]);
        mosaic.submitted_ns = 5;
        mosaic.summary = "tiles=2".into();
        let tasks = vec![a, child, mosaic];
        let overlay = TaskOverlay::build(&spans, &tasks);
        let rows = row_tasks(&overlay, &spans, &tasks);
        // `a` was done once its subtask was (40), not when it stopped itself (20).
        assert_eq!(rows[&3].queued_from_ns, Some(5));
        assert_eq!(rows[&3].ready_ns, Some(40));
        assert_eq!(rows[&3].tag, "tiles=2");
        // A dependency still running: no ready time.
        let mut unfinished = tasks;
        unfinished[1].stopped_ns = None;
        let rows = row_tasks(&overlay, &spans, &unfinished);
        assert_eq!(rows[&3].ready_ns, None);
    }

    #[test]
    fn test_a_running_attempt_is_drawn_under_the_runner_its_connection_belongs_to() {
        let root = root(100);
        let mut first = attempt("a", "root", 10, 20);
        first.runner = "node-7:4242".into();
        let spans = vec![root, first];
        let run = |number: i64, at: i64, outcome: &str| crate::model::TaskAttempt {
            number,
            runner: "127.0.0.1:59464".into(),
            started_ns: at,
            stopped_ns: None,
            outcome: outcome.into(),
            error: String::new(),
        };
        let mut a = task("a", &[]);
        a.attempts.push(run(1, 10, "computed"));
        let mut b = task("b", &[]);
        b.attempts.push(run(1, 30, "running"));
        let mut c = task("c", &[]);
        c.attempts.push(crate::model::TaskAttempt {
            runner: "127.0.0.1:60000".into(),
            ..run(1, 30, "running")
        });
        let names = runner_names(&spans, &[a.clone(), b.clone(), c.clone()]);
        assert_eq!(names["127.0.0.1:59464"], "node-7:4242");
        let stand_ins = running_attempts(&spans, &[a, b, c]);
        assert_eq!(stand_ins[0].runner, "node-7:4242");
        // A connection no span names yet: all the server knows is its address.
        assert_eq!(stand_ins[1].runner, "127.0.0.1:60000");
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
