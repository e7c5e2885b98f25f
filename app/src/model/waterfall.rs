//! Waterfall computations beyond tree order: span search, runner lanes, concurrency.

use std::collections::HashMap;

use serde_json::Value;

use super::{Span, StatusCode};

/// A parsed search: every term must match. `status:error|ok|unset`, `key=value` (an attribute
/// or resource attribute equal to the value as text), anything else is a case-insensitive
/// substring of the span name or service.
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

    pub fn matches(&self, span: &Span) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Status(status) => span.status_code == *status,
            Term::Attribute(key, value) => span
                .attributes
                .get(key)
                .or_else(|| span.resource.get(key))
                .is_some_and(|found| value_text(found) == *value),
            Term::Text(text) => {
                span.name.to_lowercase().contains(text)
                    || span.service_name().to_lowercase().contains(text)
            }
        })
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
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
}

/// Task spans (`task/…`) grouped by the runner that executed them, lanes ordered by their
/// first task's start.
pub fn runner_lanes(spans: &[Span]) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    let mut by_runner: HashMap<String, usize> = HashMap::new();
    let mut tasks: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].name.starts_with("task/"))
        .collect();
    tasks.sort_by_key(|&i| (spans[i].start_ns, spans[i].end_ns));
    for index in tasks {
        let span = &spans[index];
        let service = span.service_name().to_owned();
        let runner = span
            .resource
            .get("service.instance.id")
            .map(value_text)
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
            });
            lanes.len() - 1
        });
        lanes[lane].spans.push(index);
    }
    lanes
}

/// How many of `spans[indices]` ran at each moment: `(time, count)` steps, the count holding
/// from its time to the next step's; ends at 0.
pub fn concurrency(spans: &[Span], indices: &[usize]) -> Vec<(i64, usize)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attributes;

    fn span(name: &str, runner: &str, start: i64, end: i64) -> Span {
        let mut resource = Attributes::new();
        resource.insert("service.name".into(), Value::from("svc"));
        if !runner.is_empty() {
            resource.insert("service.instance.id".into(), Value::from(runner));
        }
        Span {
            trace_id: "t".into(),
            span_id: format!("{name}-{start}"),
            parent_span_id: None,
            name: name.into(),
            kind: 0,
            start_ns: start,
            end_ns: end,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            attributes: Attributes::new(),
            events: Vec::new(),
            resource,
            scope_name: String::new(),
            scope_version: String::new(),
        }
    }

    #[test]
    fn test_query_terms_all_must_match() {
        let mut download = span("download-scene", "r1", 0, 10);
        download
            .attributes
            .insert("scene_id".into(), Value::from("S2A_001"));
        download.attributes.insert("retries".into(), Value::from(2));
        let mut failed = span("compute-index", "r1", 10, 20);
        failed.status_code = StatusCode::Error;
        let q = SpanQuery::parse;
        assert!(q("DOWNLOAD").matches(&download));
        assert!(q("scene_id=S2A_001").matches(&download));
        assert!(q("retries=2 download").matches(&download));
        assert!(!q("retries=3").matches(&download));
        assert!(q("status:error").matches(&failed));
        assert!(!q("status:error").matches(&download));
        assert!(
            q("service.instance.id=r1").matches(&failed),
            "resource attributes too"
        );
        assert!(q("").is_empty() && q("").matches(&download));
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
        ];
        let lanes = runner_lanes(&spans);
        let shape: Vec<(&str, Vec<usize>)> = lanes
            .iter()
            .map(|l| (l.runner.as_str(), l.spans.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![("r1", vec![2, 3]), ("r2", vec![1]), ("svc", vec![5])]
        );
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
