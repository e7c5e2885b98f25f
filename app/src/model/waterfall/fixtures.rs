//! Spans and tasks for the waterfall's tests.

use crate::model::{SpanOutline, TaskView, test_outline};

pub(crate) fn span(name: &str, runner: &str, start: i64, end: i64) -> SpanOutline {
    let mut span = test_outline(&format!("{name}-{start}"), None, name, start, end);
    span.service = "svc".into();
    span.runner = runner.into();
    span
}

/// The job span `root` of a trace ending at `end`.
pub(crate) fn root(end: i64) -> SpanOutline {
    let mut root = span("job/x", "", 0, end);
    root.span_id = "root".into();
    root
}

pub(crate) fn task(id: &str, depends_on: &[&str]) -> TaskView {
    TaskView {
        id: id.into(),
        parent_id: None,
        depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
        display: id.into(),
        summary: String::new(),
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

pub(crate) fn attempt(task_id: &str, parent: &str, start: i64, end: i64) -> SpanOutline {
    let mut span = span(&format!("task/{task_id}"), "r1", start, end);
    span.parent_span_id = Some(parent.into());
    span.task_id = Some(task_id.into());
    span
}
