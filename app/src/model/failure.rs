//! Why a job failed, in one line the job page puts above its trace: the task (or span) that
//! failed first, its error, and the span to open.

use super::{Job, JobState, SpanOutline, StatusCode, TaskView};

/// The first failure of a failed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The task's display label and tag (`DownloadTile · tile=T33U07`), or the span's name.
    pub what: String,
    /// The failed attempt's error (a workflow task) or the span's status message, first line.
    pub error: String,
    /// The span that shows it: the task's last attempt, or the failed span.
    pub span_id: Option<String>,
    /// How many tasks failed (workflow jobs), or how many spans have an error status.
    pub failed: usize,
    /// How many attempts the first failed task had.
    pub attempts: usize,
}

/// The failure of a job in state FAILED; `None` for any other state.
///
/// A workflow job failed because a task used its retries up: the one that stopped first is
/// named, with its last attempt's error and span. A trace-only job failed because spans have
/// an error status: the one that ended first is named, with its status message.
pub fn job_failure(job: &Job, tasks: &[TaskView], spans: &[SpanOutline]) -> Option<Failure> {
    if job.state != JobState::Failed {
        return None;
    }
    let failed_tasks: Vec<&TaskView> = tasks.iter().filter(|t| t.state == "FAILED").collect();
    if let Some(first) = failed_tasks
        .iter()
        .min_by_key(|t| (t.stopped_ns.unwrap_or(i64::MAX), t.submitted_ns))
    {
        let span = spans
            .iter()
            .filter(|s| s.task_id.as_deref() == Some(first.id.as_str()))
            .filter(|s| s.name.starts_with("task/"))
            .max_by_key(|s| s.start_ns);
        let error = first
            .attempts
            .iter()
            .rev()
            .map(|a| a.error.as_str())
            .find(|e| !e.is_empty())
            .unwrap_or("");
        let error = without_label(error, &first.display);
        return Some(Failure {
            what: first.label(),
            error: first_line(error),
            span_id: span.map(|s| s.span_id.clone()),
            failed: failed_tasks.len(),
            attempts: first.attempts.len(),
        });
    }
    let errors: Vec<&SpanOutline> = spans
        .iter()
        .filter(|s| s.status_code == StatusCode::Error)
        .collect();
    let first = errors.iter().min_by_key(|s| (s.end_ns, s.start_ns))?;
    Some(Failure {
        what: first.name.clone(),
        error: first_line(&first.status_message),
        span_id: Some(first.span_id.clone()),
        failed: errors.len(),
        attempts: 0,
    })
}

/// The error without the label the Tilebox client puts first (`<display>\n<repr(exception)>`):
/// the stored display, or a label the task set while it ran (which only a computed result
/// stores), recognised by the exception's repr on the next line (`ValueError('…')`).
fn without_label<'a>(error: &'a str, display: &str) -> &'a str {
    if let Some(rest) = error
        .strip_prefix(display)
        .and_then(|r| r.strip_prefix('\n'))
    {
        return rest;
    }
    let Some((_, rest)) = error.split_once('\n') else {
        return error;
    };
    let name_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    let looks_like_repr = name_len > 0
        && rest[name_len..].starts_with('(')
        && rest.chars().next().is_some_and(char::is_alphabetic);
    if looks_like_repr { rest } else { error }
}

/// The first non-empty line of `text`, at most 300 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or("");
    let mut out: String = line.chars().take(300).collect();
    if line.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskAttempt;
    use crate::model::waterfall::fixtures::{attempt, task};

    fn job(state: JobState) -> Job {
        Job {
            id: "j".into(),
            trace_id: "t".into(),
            name: "survey".into(),
            state,
            start_ns: 0,
            end_ns: 10,
            span_count: 0,
            error_count: 0,
            services: vec![],
            tasks: None,
        }
    }

    fn failed_attempt(number: i64, error: &str) -> TaskAttempt {
        TaskAttempt {
            number,
            runner: "r".into(),
            started_ns: number * 10,
            stopped_ns: Some(number * 10 + 5),
            outcome: "failed".into(),
            error: error.into(),
        }
    }

    #[test]
    fn test_names_the_task_that_failed_first_with_its_last_error_and_span() {
        let mut late = task("Mosaic", &[]);
        late.state = "FAILED".into();
        late.stopped_ns = Some(90);
        late.attempts = vec![failed_attempt(1, "late")];
        let mut tile = task("Tile", &[]);
        tile.state = "FAILED".into();
        tile.stopped_ns = Some(30);
        tile.summary = "tile=T33U07".into();
        tile.attempts = vec![
            failed_attempt(1, "ValueError: first try"),
            failed_attempt(
                2,
                "Tile\nValueError('tile 1 failed')\nTraceback (most recent call last):",
            ),
        ];
        let spans = vec![
            attempt("Tile", "root", 10, 15),
            attempt("Tile", "root", 20, 25),
        ];
        let failure = job_failure(&job(JobState::Failed), &[late, tile], &spans).expect("failed");
        assert_eq!(failure.what, "Tile · tile=T33U07");
        assert_eq!(failure.error, "ValueError('tile 1 failed')");
        assert_eq!(failure.span_id.as_deref(), Some(spans[1].span_id.as_str()));
        assert_eq!((failure.failed, failure.attempts), (2, 2));
    }

    #[test]
    fn test_the_clients_label_line_is_dropped_even_when_the_task_renamed_itself() {
        let repr = "ValueError('tile T33U09 is corrupt')";
        assert_eq!(without_label(&format!("Tile\n{repr}"), "Tile"), repr);
        // Renamed while it ran: the label is not the stored display.
        let renamed = format!("Tile T33U09 (south)\n{repr}");
        assert_eq!(without_label(&renamed, "Tile"), repr);
        assert_eq!(
            without_label("x\nmodule.Error(1)", "Tile"),
            "module.Error(1)"
        );
        // Anything else is kept whole (the Rust SDK sends its error as it is).
        let plain = "connection refused\nwhile downloading";
        assert_eq!(without_label(plain, "Tile"), plain);
        assert_eq!(without_label(repr, "Tile"), repr);
    }

    #[test]
    fn test_a_trace_only_job_names_its_first_error_span() {
        let mut a = attempt("A", "root", 0, 50);
        a.status_code = StatusCode::Error;
        a.status_message = "boom".into();
        let mut b = attempt("B", "root", 0, 20);
        b.status_code = StatusCode::Error;
        b.status_message = "first".into();
        let failure = job_failure(&job(JobState::Failed), &[], &[a, b.clone()]).expect("failed");
        assert_eq!(failure.what, b.name);
        assert_eq!(failure.error, "first");
        assert_eq!(failure.failed, 2);
    }

    #[test]
    fn test_no_failure_unless_the_job_failed() {
        let mut tile = task("Tile", &[]);
        tile.state = "FAILED".into();
        assert_eq!(job_failure(&job(JobState::Running), &[tile], &[]), None);
        assert_eq!(job_failure(&job(JobState::Completed), &[], &[]), None);
    }
}
