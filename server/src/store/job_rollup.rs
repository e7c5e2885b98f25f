//! How newly stored spans roll up into their trace-only job: counts, name, failed tasks, state.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use app::model::{JobState, StatusCode};

use super::rows::{JobRow, KIND_TRACE, NAME_FROM_EARLIEST, NAME_FROM_ROOT, parse_json};
use super::{NewSpan, StoreError, TraceId};

/// Spans named `job/<name>` are the job's own span; the job is called `<name>`.
const JOB_SPAN_PREFIX: &str = "job/";

/// What the spans newly stored for one trace add to its job.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct TraceDelta {
    pub spans: i64,
    pub errors: i64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub services: BTreeSet<String>,
    /// Name and start of the earliest new span.
    pub earliest: Option<(i64, String)>,
    /// Name and status of the root span, if it is among the new spans.
    pub root: Option<(String, i32)>,
}

/// The spans of a request grouped by trace, in request order within each trace.
pub(super) fn by_trace<'a>(spans: &[&'a NewSpan]) -> BTreeMap<TraceId, Vec<&'a NewSpan>> {
    let mut grouped: BTreeMap<TraceId, Vec<&'a NewSpan>> = BTreeMap::new();
    for span in spans {
        grouped.entry(span.trace_id).or_default().push(span);
    }
    grouped
}

impl TraceDelta {
    /// What newly stored spans of one trace add to its job.
    pub fn of(spans: &[&NewSpan]) -> Self {
        let mut delta = TraceDelta {
            start_ns: i64::MAX,
            end_ns: i64::MIN,
            ..TraceDelta::default()
        };
        for span in spans {
            delta.spans += 1;
            if span.status_code == StatusCode::Error.code() {
                delta.errors += 1;
            }
            delta.start_ns = delta.start_ns.min(span.start_ns);
            delta.end_ns = delta.end_ns.max(span.end_ns);
            if !span.service_name.is_empty() && !delta.services.contains(&span.service_name) {
                delta.services.insert(span.service_name.clone());
            }
            if delta
                .earliest
                .as_ref()
                .is_none_or(|(start, _)| span.start_ns < *start)
            {
                delta.earliest = Some((span.start_ns, span.name.clone()));
            }
            if span.parent_span_id.is_none() {
                delta.root = Some((span.name.clone(), span.status_code));
            }
        }
        delta
    }
}

fn job_name(span_name: &str) -> String {
    span_name
        .strip_prefix(JOB_SPAN_PREFIX)
        .unwrap_or(span_name)
        .to_owned()
}

/// The job row after `delta` is applied to `existing` (or a new job for an unseen trace).
/// The state is left for [`derive_state`] once unresolved failures are known.
pub(super) fn merge_job(trace_id: TraceId, existing: Option<JobRow>, delta: &TraceDelta) -> JobRow {
    let mut job = existing.unwrap_or_else(|| JobRow {
        // A trace-only job's UUID is its trace id's 16 bytes.
        id: trace_id.0.to_vec(),
        trace_id: trace_id.0.to_vec(),
        kind: KIND_TRACE,
        name: String::new(),
        name_source: NAME_FROM_EARLIEST,
        root_status: None,
        state: JobState::Running.code(),
        start_ns: i64::MAX,
        end_ns: i64::MIN,
        span_count: 0,
        error_count: 0,
        failed_tasks: "{}".to_owned(),
        services: "[]".to_owned(),
    });
    let had_spans = job.span_count > 0;
    if job.name_source == NAME_FROM_EARLIEST {
        if let Some((name, status)) = &delta.root {
            job.name = job_name(name);
            job.name_source = NAME_FROM_ROOT;
            job.root_status = Some(*status);
        } else if let Some((start, name)) = &delta.earliest
            && (!had_spans || *start < job.start_ns || job.name.is_empty())
        {
            job.name = job_name(name);
        }
    } else if let Some((_, status)) = &delta.root {
        job.root_status = Some(*status);
    }
    if had_spans {
        job.start_ns = job.start_ns.min(delta.start_ns);
        job.end_ns = job.end_ns.max(delta.end_ns);
    } else {
        // A workflow job submitted without spans keeps its submission time as start.
        job.start_ns = if job.start_ns == i64::MAX || job.start_ns == 0 {
            delta.start_ns
        } else {
            job.start_ns.min(delta.start_ns)
        };
        job.end_ns = job.end_ns.max(delta.end_ns);
    }
    job.span_count += delta.spans;
    job.error_count += delta.errors;
    let mut services: BTreeSet<String> = serde_json::from_str(&job.services).unwrap_or_default();
    services.extend(delta.services.iter().cloned());
    job.services = serde_json::to_string(&services).unwrap_or_else(|_| "[]".to_owned());
    job
}

/// The tasks of a job whose latest attempt failed: task key → start of that attempt. Stored on
/// the job row (as JSON) so a batch of successful spans needs no lookup; failures are rare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct FailedTasks(pub BTreeMap<String, i64>);

/// The latest attempt of each task among new spans: key → (start, failed). On equal starts the
/// failure wins, so the outcome does not depend on arrival order.
fn latest_attempts<'a>(spans: &[&'a NewSpan]) -> BTreeMap<&'a str, (i64, bool)> {
    let failed = StatusCode::Error.code();
    let mut latest: BTreeMap<&str, (i64, bool)> = BTreeMap::new();
    for span in spans {
        let Some(key) = span.task_key.as_deref() else {
            continue;
        };
        let attempt = (span.start_ns, span.status_code == failed);
        let current = latest.entry(key).or_insert(attempt);
        if attempt > *current {
            *current = attempt;
        }
    }
    latest
}

impl FailedTasks {
    pub fn parse(json: &str) -> Result<Self, StoreError> {
        parse_json("job failed tasks", json).map(FailedTasks)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Applies new spans. Returns the failed attempts whose task is not known to have failed
    /// before: they fail the task only if no stored attempt that did not fail started later,
    /// which the caller checks (for a trace seen for the first time there is none).
    pub fn apply<'a>(&mut self, spans: &[&'a NewSpan]) -> Vec<(&'a str, i64)> {
        let mut to_check = Vec::new();
        for (key, (start, failed)) in latest_attempts(spans) {
            match self.0.get(key).copied() {
                Some(failed_start) if start > failed_start || (start == failed_start && failed) => {
                    if failed {
                        self.0.insert(key.to_owned(), start);
                    } else {
                        self.0.remove(key);
                    }
                }
                None if failed => to_check.push((key, start)),
                // An attempt older than the recorded failure, or a success of a task not known
                // to have failed, changes nothing.
                _ => {}
            }
        }
        to_check
    }

    /// Records the failures [`FailedTasks::apply`] asked about, given for each task key the
    /// start of its latest stored attempt that did not fail.
    pub fn confirm(&mut self, checked: &[(&str, i64)], latest_success: &HashMap<String, i64>) {
        for (key, start) in checked {
            if latest_success
                .get(*key)
                .is_none_or(|success| success < start)
            {
                self.0.insert((*key).to_owned(), *start);
            }
        }
    }
}

/// A trace-only job's state: failed when its root span failed or a task's latest attempt failed;
/// completed once the root span arrived; running before.
pub(super) fn derive_state(job: &JobRow, failed_tasks: &FailedTasks) -> JobState {
    if job.root_status == Some(StatusCode::Error.code()) || !failed_tasks.0.is_empty() {
        JobState::Failed
    } else if job.name_source == NAME_FROM_ROOT {
        JobState::Completed
    } else {
        JobState::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SpanId;

    fn span(id: u8, parent: Option<u8>, name: &str, start: i64, status: StatusCode) -> NewSpan {
        NewSpan {
            trace_id: TraceId([7; 16]),
            span_id: SpanId([id; 8]),
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            name: name.to_owned(),
            kind: 1,
            start_ns: start,
            end_ns: start + 100,
            status_code: status.code(),
            status_message: String::new(),
            attributes_json: "{}".to_owned(),
            events_json: "[]".to_owned(),
            resource_id: 1,
            service_name: format!("svc-{id}"),
            scope_name: String::new(),
            scope_version: String::new(),
            task_key: None,
        }
    }

    fn merged(batches: &[Vec<NewSpan>]) -> JobRow {
        let mut job = None;
        for batch in batches {
            let spans: Vec<&NewSpan> = batch.iter().collect();
            job = Some(merge_job(TraceId([7; 16]), job, &TraceDelta::of(&spans)));
        }
        job.expect("at least one batch")
    }

    #[test]
    fn test_root_span_names_the_job_without_prefix() {
        let job = merged(&[vec![
            span(2, Some(1), "task/ProcessScene", 10, StatusCode::Ok),
            span(1, None, "job/process-scene", 0, StatusCode::Unset),
        ]]);
        assert_eq!(job.name, "process-scene");
        assert_eq!(
            derive_state(&job, &FailedTasks::default()),
            JobState::Completed
        );
        assert_eq!((job.start_ns, job.end_ns, job.span_count), (0, 110, 2));
    }

    #[test]
    fn test_earliest_span_names_job_until_root_arrives() {
        let first = vec![
            span(3, Some(1), "later", 50, StatusCode::Ok),
            span(2, Some(1), "earlier", 20, StatusCode::Ok),
        ];
        let job = merged(std::slice::from_ref(&first));
        assert_eq!(job.name, "earlier");
        assert_eq!(
            derive_state(&job, &FailedTasks::default()),
            JobState::Running
        );

        let job = merged(&[
            first.clone(),
            vec![span(4, Some(1), "earliest", 5, StatusCode::Ok)],
        ]);
        assert_eq!(job.name, "earliest");

        let job = merged(&[
            first,
            vec![span(1, None, "job/ingest", 0, StatusCode::Ok)],
            vec![span(5, Some(1), "even-earlier", -5, StatusCode::Ok)],
        ]);
        assert_eq!(job.name, "ingest", "the root's name sticks");
        assert_eq!(job.start_ns, -5);
    }

    #[test]
    fn test_errors_and_services_accumulate() {
        let job = merged(&[
            vec![span(2, Some(1), "a", 0, StatusCode::Error)],
            vec![
                span(3, Some(1), "b", 0, StatusCode::Error),
                span(4, Some(1), "c", 0, StatusCode::Ok),
            ],
        ]);
        assert_eq!(job.error_count, 2);
        assert_eq!(job.services, r#"["svc-2","svc-3","svc-4"]"#);
    }

    fn task(id: u8, key: &str, start: i64, status: StatusCode) -> NewSpan {
        let mut span = span(id, Some(1), "task/Tile", start, status);
        span.task_key = Some(key.to_owned());
        span
    }

    fn applied(failed: &mut FailedTasks, spans: &[NewSpan]) -> Vec<(String, i64)> {
        let refs: Vec<&NewSpan> = spans.iter().collect();
        failed
            .apply(&refs)
            .into_iter()
            .map(|(k, s)| (k.to_owned(), s))
            .collect()
    }

    #[test]
    fn test_failed_tasks_follow_the_latest_attempt() {
        let mut failed = FailedTasks::default();
        // A failure of an unknown task must be checked against stored attempts.
        let check = applied(&mut failed, &[task(2, "a", 10, StatusCode::Error)]);
        assert_eq!(check, vec![("a".to_owned(), 10)]);
        failed.confirm(&[("a", 10)], &HashMap::new());
        assert_eq!(failed.0.get("a"), Some(&10));
        // An older success arriving late changes nothing; a later one resolves the failure.
        assert!(applied(&mut failed, &[task(3, "a", 5, StatusCode::Ok)]).is_empty());
        assert_eq!(failed.0.len(), 1);
        assert!(applied(&mut failed, &[task(4, "a", 20, StatusCode::Ok)]).is_empty());
        assert!(failed.0.is_empty());
    }

    #[test]
    fn test_failure_older_than_a_stored_success_does_not_count() {
        let mut failed = FailedTasks::default();
        let check = applied(&mut failed, &[task(2, "a", 10, StatusCode::Error)]);
        let stored_success = HashMap::from([("a".to_owned(), 30)]);
        let check: Vec<(&str, i64)> = check.iter().map(|(k, s)| (k.as_str(), *s)).collect();
        failed.confirm(&check, &stored_success);
        assert!(failed.0.is_empty());
    }

    #[test]
    fn test_within_one_batch_the_latest_attempt_decides() {
        let mut failed = FailedTasks::default();
        let spans = [
            task(2, "a", 10, StatusCode::Error),
            task(3, "a", 20, StatusCode::Ok),
        ];
        assert!(applied(&mut failed, &spans).is_empty());
        let spans = [
            task(4, "b", 20, StatusCode::Ok),
            task(5, "b", 20, StatusCode::Error),
        ];
        assert_eq!(
            applied(&mut failed, &spans),
            vec![("b".to_owned(), 20)],
            "failure wins ties"
        );
    }

    #[test]
    fn test_failed_root_or_unresolved_task_fails_job() {
        let job = merged(&[vec![span(1, None, "job/x", 0, StatusCode::Error)]]);
        assert_eq!(
            derive_state(&job, &FailedTasks::default()),
            JobState::Failed
        );
        let job = merged(&[vec![span(1, None, "job/x", 0, StatusCode::Ok)]]);
        let failed = FailedTasks(BTreeMap::from([("a".to_owned(), 1)]));
        assert_eq!(derive_state(&job, &failed), JobState::Failed);
    }
}
