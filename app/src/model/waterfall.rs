//! Waterfall computations beyond tree order: span search, runner lanes, concurrency.

use std::collections::HashMap;

use super::{SpanOutline, SpanTree, StatusCode, TaskView};

/// A parsed search: every term must match. `status:error|ok|unset`, `key=value` (an attribute
/// or resource attribute equal to the value as text), anything else is a case-insensitive
/// substring of the span name or service.
///
/// The page holds span skeletons only, so `key=value` terms are answered by the server
/// ([`SpanQuery::attribute_terms`] → `search_spans` → the store's `span_ids_with_attributes`);
/// the rest here ([`SpanQuery::matches`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpanQuery {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Status(StatusCode),
    Attribute(String, String),
    Text(String),
}

impl SpanQuery {
    pub fn parse(text: &str) -> Self {
        let terms = text
            .split_whitespace()
            .map(|term| {
                if let Some(status) = term.strip_prefix("status:") {
                    match status.to_ascii_lowercase().as_str() {
                        "error" => return Term::Status(StatusCode::Error),
                        "ok" => return Term::Status(StatusCode::Ok),
                        "unset" => return Term::Status(StatusCode::Unset),
                        _ => {}
                    }
                }
                match term.split_once('=') {
                    Some((key, value)) if !key.is_empty() => {
                        Term::Attribute(key.to_owned(), value.to_owned())
                    }
                    _ => Term::Text(term.to_lowercase()),
                }
            })
            .collect();
        SpanQuery { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The `key=value` terms, which only the server can answer.
    pub fn attribute_terms(&self) -> Vec<(String, String)> {
        self.terms
            .iter()
            .filter_map(|term| match term {
                Term::Attribute(key, value) => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    /// Whether the span passes the status and text terms (`key=value` terms aside).
    pub fn matches(&self, span: &SpanOutline) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Status(status) => span.status_code == *status,
            Term::Attribute(..) => true,
            Term::Text(text) => {
                span.name.to_lowercase().contains(text)
                    || span.service.to_lowercase().contains(text)
            }
        })
    }
}

/// One runner's task executions over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// `service.instance.id`, else the service name, else "unknown runner".
    pub runner: String,
    pub service: String,
    /// Indices of task spans, by start time.
    pub spans: Vec<usize>,
    /// Per span (as in `spans`): its row within the lane. Tasks the runner ran at the same time
    /// (a runner with several slots) get rows of their own instead of overlapping.
    pub slots: Vec<usize>,
    /// How many rows the lane needs (at least 1).
    pub slot_count: usize,
}

/// Task spans (`task/…`) grouped by the runner that executed them, lanes ordered by their
/// first task's start.
pub fn runner_lanes(spans: &[SpanOutline]) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    let mut by_runner: HashMap<String, usize> = HashMap::new();
    let mut tasks: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].name.starts_with("task/"))
        .collect();
    tasks.sort_by_key(|&i| (spans[i].start_ns, spans[i].end_ns));
    for index in tasks {
        let span = &spans[index];
        let service = span.service.clone();
        let runner = Some(span.runner.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| {
                if service.is_empty() {
                    "unknown runner".to_owned()
                } else {
                    service.clone()
                }
            });
        let lane = *by_runner.entry(runner.clone()).or_insert_with(|| {
            lanes.push(Lane {
                runner,
                service,
                spans: Vec::new(),
                slots: Vec::new(),
                slot_count: 1,
            });
            lanes.len() - 1
        });
        lanes[lane].spans.push(index);
    }
    // Spans come by start time: each takes the first row free again by its start.
    for lane in &mut lanes {
        let mut free_at: Vec<i64> = Vec::new();
        for &index in &lane.spans {
            let span = &spans[index];
            let slot = match free_at.iter().position(|&end| end <= span.start_ns) {
                Some(slot) => slot,
                None => {
                    free_at.push(i64::MIN);
                    free_at.len() - 1
                }
            };
            free_at[slot] = span.end_ns.max(span.start_ns);
            lane.slots.push(slot);
        }
        lane.slot_count = free_at.len().max(1);
    }
    lanes
}

/// How many of `spans[indices]` ran at each moment: `(time, count)` steps, the count holding
/// from its time to the next step's; ends at 0.
pub fn concurrency(spans: &[SpanOutline], indices: &[usize]) -> Vec<(i64, usize)> {
    let mut edges: Vec<(i64, i32)> = Vec::with_capacity(indices.len() * 2);
    for &index in indices {
        let span = &spans[index];
        if span.end_ns > span.start_ns {
            edges.push((span.start_ns, 1));
            edges.push((span.end_ns, -1));
        }
    }
    // Ends before starts at the same instant: back-to-back tasks are not concurrent.
    edges.sort_unstable();
    let mut steps: Vec<(i64, usize)> = Vec::new();
    let mut running: i32 = 0;
    for (time, delta) in edges {
        running += delta;
        let count = usize::try_from(running).unwrap_or(0);
        match steps.last_mut() {
            Some(last) if last.0 == time => last.1 = count,
            _ => steps.push((time, count)),
        }
    }
    steps
}

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

/// The spans that decided when the trace ended: from each root, the child that finished last,
/// then (walking back in time) whatever finished last before that one started — a task's
/// dependency (the queue wait after it) or an earlier sibling — recursively inside each.
pub fn critical_path(
    tree: &SpanTree,
    spans: &[SpanOutline],
    overlay: &TaskOverlay,
) -> std::collections::HashSet<usize> {
    // A task attempt's predecessors by dependency: the dependencies' last attempts.
    let mut waited_for: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(dependency, dependent) in &overlay.edges {
        if let (Some(first), Some(&last)) = (
            overlay.attempts[dependent].first(),
            overlay.attempts[dependency].last(),
        ) {
            waited_for.entry(*first).or_default().push(last);
        }
    }
    // When each span's subtree ended: children may outlive their parent (a job's root span
    // ends at submission, its tasks run later).
    let mut reach: Vec<i64> = spans.iter().map(|s| s.end_ns).collect();
    let mut order: Vec<usize> = Vec::with_capacity(spans.len());
    let mut stack: Vec<usize> = tree.roots().to_vec();
    while let Some(index) = stack.pop() {
        order.push(index);
        stack.extend_from_slice(tree.children(index));
    }
    for &index in order.iter().rev() {
        let latest = tree.children(index).iter().map(|&k| reach[k]).max();
        if let Some(latest) = latest {
            reach[index] = reach[index].max(latest);
        }
    }
    let mut on_path = std::collections::HashSet::new();
    // Explicit work list: deep traces must not exhaust the call stack.
    let mut work: Vec<(usize, i64)> = tree.roots().iter().map(|&r| (r, reach[r])).collect();
    while let Some((span, until)) = work.pop() {
        if !on_path.insert(span) {
            continue;
        }
        let mut cursor = reach[span].min(until);
        let kids = tree.children(span);
        loop {
            let last = kids
                .iter()
                .copied()
                .filter(|&k| {
                    !on_path.contains(&k) && reach[k] <= cursor && spans[k].start_ns < cursor
                })
                .max_by_key(|&k| reach[k]);
            let Some(child) = last else { break };
            work.push((child, cursor));
            cursor = spans[child].start_ns;
            // Before a task started, it may have been waiting for its dependencies.
            if let Some(dependency) = waited_for.get(&child).and_then(|deps| {
                deps.iter()
                    .copied()
                    .filter(|&d| spans[d].end_ns <= cursor)
                    .max_by_key(|&d| spans[d].end_ns)
            }) {
                work.push((dependency, cursor));
                cursor = spans[dependency].start_ns;
            }
        }
    }
    on_path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_outline;

    fn span(name: &str, runner: &str, start: i64, end: i64) -> SpanOutline {
        let mut span = test_outline(&format!("{name}-{start}"), None, name, start, end);
        span.service = "svc".into();
        span.runner = runner.into();
        span
    }

    #[test]
    fn test_query_terms_all_must_match() {
        let download = span("download-scene", "r1", 0, 10);
        let mut failed = span("compute-index", "r1", 10, 20);
        failed.status_code = StatusCode::Error;
        let q = SpanQuery::parse;
        assert!(q("DOWNLOAD").matches(&download));
        assert!(q("SVC").matches(&download), "the service too");
        assert!(q("status:error").matches(&failed));
        assert!(!q("status:error").matches(&download));
        assert!(!q("status:error download").matches(&failed));
        assert!(q("").is_empty() && q("").matches(&download));
        // Attribute terms are left to the server.
        let mixed = q("scene_id=S2A_001 download retries=2");
        assert!(mixed.matches(&download));
        assert_eq!(
            mixed.attribute_terms(),
            vec![
                ("scene_id".to_owned(), "S2A_001".to_owned()),
                ("retries".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn test_lanes_group_task_spans_by_runner() {
        let spans = vec![
            span("job/x", "", 0, 100),
            span("task/B", "r2", 20, 40),
            span("task/A", "r1", 10, 30),
            span("task/C", "r1", 35, 50),
            span("custom", "r1", 12, 14),
            span("task/D", "", 60, 70),
            span("task/E", "r1", 15, 33),
        ];
        let lanes = runner_lanes(&spans);
        let shape: Vec<(&str, Vec<usize>, Vec<usize>)> = lanes
            .iter()
            .map(|l| (l.runner.as_str(), l.spans.clone(), l.slots.clone()))
            .collect();
        // E overlaps A on r1: a second row; C starts after both ended: back to the first.
        assert_eq!(
            shape,
            vec![
                ("r1", vec![2, 6, 3], vec![0, 1, 0]),
                ("r2", vec![1], vec![0]),
                ("svc", vec![5], vec![0])
            ]
        );
        assert_eq!(lanes[0].slot_count, 2);
        assert_eq!(lanes[1].slot_count, 1);
    }

    fn task(id: &str, depends_on: &[&str]) -> TaskView {
        TaskView {
            id: id.into(),
            parent_id: None,
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
            display: id.into(),
            identifier_name: id.into(),
            identifier_version: "v0.0".into(),
            cluster: "default".into(),
            state: "COMPUTED".into(),
            optional: false,
            max_retries: 1,
            retry_count: 0,
            submitted_ns: 0,
            started_ns: None,
            stopped_ns: None,
            attempts: Vec::new(),
        }
    }

    fn attempt(task_id: &str, parent: &str, start: i64, end: i64) -> SpanOutline {
        let mut span = span(&format!("task/{task_id}"), "r1", start, end);
        span.parent_span_id = Some(parent.into());
        span.task_id = Some(task_id.into());
        span
    }

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
    fn test_critical_path_follows_the_last_finisher_and_dependencies() {
        let mut root = span("job/x", "", 0, 100);
        root.span_id = "root".into();
        let spans = vec![
            root,
            attempt("a", "root", 0, 40),   // 1: the dependency of c
            attempt("b", "root", 0, 10),   // 2: short, off the path
            attempt("c", "root", 50, 120), // 3: finished last, after the root span
        ];
        let tasks = vec![task("a", &[]), task("b", &[]), task("c", &["a"])];
        let overlay = TaskOverlay::build(&spans, &tasks);
        let tree = SpanTree::build(&spans);
        let path = critical_path(&tree, &spans, &overlay);
        let mut path: Vec<usize> = path.into_iter().collect();
        path.sort_unstable();
        assert_eq!(path, vec![0, 1, 3]);
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

    #[test]
    fn test_concurrency_counts_overlaps_and_not_back_to_back() {
        let spans = vec![
            span("task/A", "r1", 0, 10),
            span("task/B", "r2", 5, 15),
            span("task/C", "r1", 10, 20),
        ];
        let steps = concurrency(&spans, &[0, 1, 2]);
        assert_eq!(steps, vec![(0, 1), (5, 2), (10, 2), (15, 1), (20, 0)]);
    }
}
