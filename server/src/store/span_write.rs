//! How one OTLP request's spans are stored, written once for both backends over [`SpanTx`]:
//! the statements a backend runs inside its transaction. PostgreSQL implements it on sqlx,
//! SQLite on its dedicated rusqlite writer (see `sqlite_write.rs`).

use std::collections::{HashMap, HashSet};

use super::job_rollup::{FailedTasks, TraceDelta};
use super::rows::JobRow;
use super::{NewResource, NewSpan, SpanId, StoreError, TraceId};

pub(super) const JOB_COLUMNS: &str = "id, trace_id, kind, name, name_source, root_status, state, \
    start_ns, end_ns, span_count, error_count, failed_tasks, services";

pub(super) const UPSERT_JOB: &str = "INSERT INTO jobs (id, trace_id, kind, name, name_source, \
    root_status, state, start_ns, end_ns, span_count, error_count, failed_tasks, services) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_source = excluded.name_source, \
    root_status = excluded.root_status, state = excluded.state, start_ns = excluded.start_ns, \
    end_ns = excluded.end_ns, span_count = excluded.span_count, \
    error_count = excluded.error_count, failed_tasks = excluded.failed_tasks, \
    services = excluded.services";

/// The statements of the span write path, run inside the caller's transaction.
pub(super) trait SpanTx {
    /// Resources already stored are kept.
    async fn insert_resources(&mut self, resources: &[NewResource]) -> Result<(), StoreError>;
    /// The trace's job row, if any; a row without spans counts as none having been stored.
    async fn job_by_trace(&mut self, trace_id: TraceId) -> Result<Option<JobRow>, StoreError>;
    /// Which of `spans` (all of `trace_id`) are stored already.
    async fn stored_span_ids(
        &mut self,
        trace_id: TraceId,
        spans: &[&NewSpan],
    ) -> Result<HashSet<SpanId>, StoreError>;
    /// `INSERT … ON CONFLICT DO NOTHING`.
    async fn insert_spans(&mut self, spans: &[&NewSpan]) -> Result<Inserted, StoreError>;
    /// Per task key, the start of its latest stored attempt that did not fail.
    async fn latest_successes(
        &mut self,
        trace_id: TraceId,
        keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError>;
    async fn upsert_job(&mut self, job: &JobRow) -> Result<(), StoreError>;
}

/// What an insert of spans can tell about which rows it stored.
pub(super) enum Inserted {
    /// How many (multi-row statements).
    Count(u64),
    /// Which ones, in order (one statement per row).
    Each(Vec<bool>),
}

/// The spans of a request without repeats: a span sent twice in one request counts once (the
/// first copy wins).
pub(super) fn distinct_spans(spans: &[NewSpan]) -> Vec<&NewSpan> {
    let mut seen = HashSet::with_capacity(spans.len());
    spans
        .iter()
        .filter(|span| seen.insert((span.trace_id, span.span_id)))
        .collect()
}

/// One attempt at storing `spans` and updating their jobs. Known traces are assumed to get new
/// spans (the common case: no lookup). If the insert cannot say which rows it skipped as stored
/// already (a multi-row statement only counts), this returns `None`; the caller rolls back and
/// tries again `careful`, looking each span of a known trace up first.
pub(super) async fn write_spans<T: SpanTx>(
    tx: &mut T,
    spans: &[&NewSpan],
    resources: &[NewResource],
    careful: bool,
) -> Result<Option<u64>, StoreError> {
    tx.insert_resources(resources).await?;
    // Per trace: its job as stored, and which of its spans are new.
    let mut plans: Vec<(TraceId, Option<JobRow>, bool, Vec<&NewSpan>)> = Vec::new();
    for (trace_id, trace_spans) in super::job_rollup::by_trace(spans) {
        let existing = tx.job_by_trace(trace_id).await?;
        // A trace whose job has no spans has none stored: job and spans are written together.
        let known = existing.as_ref().is_some_and(|job| job.span_count > 0);
        let new_spans = if careful && known {
            let stored = tx.stored_span_ids(trace_id, &trace_spans).await?;
            trace_spans
                .into_iter()
                .filter(|span| !stored.contains(&span.span_id))
                .collect()
        } else {
            trace_spans
        };
        plans.push((trace_id, existing, known, new_spans));
    }
    let fresh: Vec<&NewSpan> = plans
        .iter()
        .flat_map(|(_, _, _, new_spans)| new_spans.iter().copied())
        .collect();
    let written = match tx.insert_spans(&fresh).await? {
        Inserted::Count(count) if count == fresh.len() as u64 => count,
        Inserted::Count(_) => return Ok(None),
        Inserted::Each(stored_now) => {
            let already: HashSet<(TraceId, SpanId)> = fresh
                .iter()
                .zip(&stored_now)
                .filter(|(_, inserted)| !**inserted)
                .map(|(span, _)| (span.trace_id, span.span_id))
                .collect();
            if !already.is_empty() {
                for (_, _, _, new_spans) in &mut plans {
                    new_spans.retain(|span| !already.contains(&(span.trace_id, span.span_id)));
                }
            }
            (fresh.len() - already.len()) as u64
        }
    };
    for (trace_id, existing, known_trace, new_spans) in plans {
        if new_spans.is_empty() {
            continue;
        }
        let mut job = super::job_rollup::merge_job(trace_id, existing, &TraceDelta::of(&new_spans));
        let mut failed = FailedTasks::parse(&job.failed_tasks)?;
        let to_check = failed.apply(&new_spans);
        // A failure counts unless a stored attempt that did not fail started later; a trace
        // seen for the first time has no stored attempts.
        let latest_success = if known_trace && !to_check.is_empty() {
            let keys: Vec<&str> = to_check.iter().map(|(key, _)| *key).collect();
            tx.latest_successes(trace_id, &keys).await?
        } else {
            HashMap::new()
        };
        failed.confirm(&to_check, &latest_success);
        job.failed_tasks = failed.to_json();
        if job.kind == super::rows::KIND_TRACE {
            job.state = super::job_rollup::derive_state(&job, &failed).code();
        }
        tx.upsert_job(&job).await?;
    }
    Ok(Some(written))
}
