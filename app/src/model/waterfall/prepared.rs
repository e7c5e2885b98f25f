//! A job's trace readied for the waterfall, once per load: running attempts' stand-ins added,
//! its time bounds, log marks by span, the span tree, the task overlay and each row's task.

use std::collections::HashMap;
use std::sync::Arc;

use super::{RowTask, TaskOverlay, row_tasks, running_attempts};
use crate::model::{JobTrace, LogMark, LogRecord, SpanOutline, SpanTree, TaskView};

/// What the trace view draws from; built once per load of the trace.
#[derive(Debug, Clone)]
pub struct PreparedTrace {
    pub trace_id: String,
    /// The trace's spans, then a stand-in per running attempt whose span has not arrived.
    pub spans: Arc<Vec<SpanOutline>>,
    /// The index of the first stand-in (the number of real spans).
    pub first_stand_in: usize,
    /// The latest start of a running attempt: `Some` while tasks run.
    pub latest_start: Option<i64>,
    /// The earliest start (unix ns): the time axis starts here.
    pub origin: i64,
    /// The latest end (unix ns).
    pub end: i64,
    /// `end - origin`, at least 1 ns.
    pub width: i64,
    /// Where each span's log lines are, by span id (their bodies load with the selected span).
    pub marks: HashMap<String, Vec<LogMark>>,
    /// How many log lines are outside any span.
    pub unattached_total: usize,
    /// The first of them, whole.
    pub unattached_logs: Vec<LogRecord>,
    pub tree: SpanTree,
    /// Span id → index into `spans`.
    pub index_of: HashMap<String, usize>,
    pub overlay: TaskOverlay,
    /// Per task attempt span: what its row shows of the task.
    pub row_tasks: HashMap<usize, RowTask>,
    /// The job's root span (`job/…`, no parent) when the job outlasted it: the Tilebox client's
    /// root is the submit call, milliseconds at the start of a job that runs for minutes. Its
    /// row also draws the whole job, to the trace's end (or the clock, while tasks run).
    pub job_root: Option<usize>,
    /// Workflow jobs only: the tasks, as the store lists them (the graph view lays them out).
    pub tasks: Arc<Vec<TaskView>>,
}

/// How many log lines a span has, alone and with its descendants, and the ids to ask the
/// server for either (`.`-separated; empty when there are none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubtreeLogs {
    pub own: usize,
    pub total: usize,
    pub own_ids: String,
    pub subtree_ids: String,
}

impl PreparedTrace {
    pub fn build(trace: JobTrace) -> Self {
        let JobTrace {
            job,
            mut spans,
            log_marks,
            unattached_logs,
            tasks,
            ..
        } = trace;
        // Running attempts have no span yet: stand-ins grow with the clock until theirs arrives.
        let first_stand_in = spans.len();
        let stand_ins = running_attempts(&spans, &tasks);
        let latest_start = stand_ins.iter().map(|s| s.start_ns).max();
        spans.extend(stand_ins);
        let origin = spans
            .iter()
            .map(|s| s.start_ns)
            .min()
            .unwrap_or(job.start_ns);
        let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(job.end_ns);
        let mut marks: HashMap<String, Vec<LogMark>> = HashMap::new();
        let mut unattached_total = 0;
        for mark in log_marks {
            match &mark.span_id {
                Some(span_id) => marks.entry(span_id.clone()).or_default().push(mark),
                None => unattached_total += 1,
            }
        }
        let tree = SpanTree::build(&spans);
        let index_of = spans
            .iter()
            .enumerate()
            .map(|(index, span)| (span.span_id.clone(), index))
            .collect();
        let overlay = TaskOverlay::build(&spans, &tasks);
        let row_tasks = row_tasks(&overlay, &spans, &tasks);
        let job_root = spans
            .iter()
            .position(|s| s.parent_span_id.is_none() && s.name.starts_with("job/"))
            .filter(|&root| spans[root].end_ns < end || latest_start.is_some());
        PreparedTrace {
            trace_id: job.trace_id,
            spans: Arc::new(spans),
            first_stand_in,
            latest_start,
            origin,
            end,
            width: (end - origin).max(1),
            marks,
            unattached_total,
            unattached_logs,
            tree,
            index_of,
            overlay,
            row_tasks,
            job_root,
            tasks: Arc::new(tasks),
        }
    }

    /// Whether the span is a running attempt's stand-in (no stored span to detail yet).
    pub fn is_stand_in(&self, index: usize) -> bool {
        index >= self.first_stand_in
    }

    /// The clock as the first render reads it, on the server and in the browser alike: the
    /// trace's end, or the latest running attempt's start if later.
    pub fn first_now(&self) -> i64 {
        self.end.max(self.latest_start.unwrap_or(self.end))
    }

    /// The log lines of the span at `index` and its subtree, from the marks.
    pub fn subtree_logs(&self, index: usize) -> SubtreeLogs {
        let (mut own, mut total) = (0, 0);
        let mut with_logs = Vec::new();
        let mut stack = vec![index];
        while let Some(at) = stack.pop() {
            let id = &self.spans[at].span_id;
            if let Some(marks) = self.marks.get(id) {
                if at == index {
                    own = marks.len();
                }
                total += marks.len();
                with_logs.push(id.clone());
            }
            stack.extend_from_slice(self.tree.children(at));
        }
        SubtreeLogs {
            own,
            total,
            own_ids: if own > 0 {
                self.spans[index].span_id.clone()
            } else {
                String::new()
            },
            subtree_ids: with_logs.join("."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waterfall::fixtures::{attempt, span, task};
    use crate::model::{Job, JobState, TaskAttempt};

    fn job() -> Job {
        Job {
            id: "job".into(),
            trace_id: "trace".into(),
            name: "x".into(),
            state: JobState::Running,
            start_ns: 0,
            end_ns: 0,
            span_count: 0,
            error_count: 0,
            services: Vec::new(),
            tasks: None,
        }
    }

    fn mark(span_id: Option<&str>, time_ns: i64) -> LogMark {
        LogMark {
            span_id: span_id.map(Into::into),
            time_ns,
            severity_number: 9,
        }
    }

    /// root (100..200) → a (110..150) → a-child (120..130); b is running since 300.
    fn trace() -> JobTrace {
        let mut root = span("job/x", "", 100, 200);
        root.span_id = "root".into();
        let a = attempt("a", "root", 110, 150);
        let mut child = span("fetch", "r1", 120, 130);
        child.span_id = "child".into();
        child.parent_span_id = Some(a.span_id.clone());
        let mut running = task("b", &[]);
        running.attempts.push(TaskAttempt {
            number: 1,
            runner: "r2".into(),
            started_ns: 300,
            stopped_ns: None,
            outcome: "running".into(),
            error: String::new(),
        });
        JobTrace {
            job: job(),
            log_marks: vec![
                mark(Some(&a.span_id), 111),
                mark(Some("child"), 121),
                mark(Some("child"), 122),
                mark(None, 123),
            ],
            spans: vec![root, a, child],
            unattached_logs: Vec::new(),
            tasks: vec![task("a", &[]), running],
            previous_run: None,
            progress: vec![],
        }
    }

    #[test]
    fn test_build_adds_stand_ins_and_bounds() {
        let prepared = PreparedTrace::build(trace());
        assert_eq!(prepared.trace_id, "trace");
        assert_eq!(prepared.spans.len(), 4);
        assert_eq!(prepared.first_stand_in, 3);
        assert_eq!(prepared.spans[3].span_id, "running-b");
        assert!(prepared.is_stand_in(3) && !prepared.is_stand_in(2));
        assert_eq!(prepared.latest_start, Some(300));
        // The stand-in (300..300) reaches past the root's end.
        assert_eq!(
            (prepared.origin, prepared.end, prepared.width),
            (100, 300, 200)
        );
        assert_eq!(prepared.first_now(), 300);
        assert_eq!(prepared.index_of["child"], 2);
        assert_eq!(prepared.index_of["running-b"], 3);
        assert_eq!(prepared.overlay.attempt_of[&1], (0, 1));
        assert_eq!(prepared.marks["child"].len(), 2);
        assert_eq!(prepared.unattached_total, 1);
    }

    #[test]
    fn test_empty_trace_takes_the_jobs_times() {
        let mut empty = trace();
        empty.spans.clear();
        empty.tasks.clear();
        empty.job.start_ns = 7;
        empty.job.end_ns = 7;
        let prepared = PreparedTrace::build(empty);
        assert_eq!((prepared.origin, prepared.end, prepared.width), (7, 7, 1));
        assert_eq!(prepared.latest_start, None);
        assert_eq!(prepared.first_now(), 7);
    }

    #[test]
    fn test_subtree_logs_count_own_and_descendants_lines() {
        let prepared = PreparedTrace::build(trace());
        let a_id = prepared.spans[1].span_id.clone();
        assert_eq!(
            prepared.subtree_logs(1),
            SubtreeLogs {
                own: 1,
                total: 3,
                own_ids: a_id.clone(),
                subtree_ids: format!("{a_id}.child"),
            }
        );
        // The root has no lines of its own.
        let root = prepared.subtree_logs(0);
        assert_eq!((root.own, root.total), (0, 3));
        assert_eq!(root.own_ids, "");
        assert_eq!(prepared.subtree_logs(3), SubtreeLogs::default());
    }
}
