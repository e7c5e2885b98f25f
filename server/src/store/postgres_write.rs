//! PostgreSQL's write path for spans and logs: one transaction a request, each table's rows in
//! one statement over array parameters (`UNNEST`).

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;

use super::rows::JobRow;
use super::span_write::{self, Inserted, JOB_COLUMNS, SpanTx, UPSERT_JOB};
use super::{
    LogBatch, NewResource, NewSpan, PostgresStore, SpanBatch, SpanId, StoreError, TraceId,
    WriteSummary,
};

/// A request's spans in one statement: a column of values per array parameter.
const INSERT_SPANS: &str = "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, \
    start_ns, end_ns, status_code, status_message, attributes, events, resource_id, service_name, \
    scope_name, scope_version, task_key) SELECT * FROM UNNEST($1::bytea[], $2::bytea[], \
    $3::bytea[], $4::text[], $5::int4[], $6::int8[], $7::int8[], $8::int4[], $9::text[], \
    $10::text[], $11::text[], $12::int8[], $13::text[], $14::text[], $15::text[], $16::text[]) \
    ON CONFLICT (trace_id, span_id) DO NOTHING";

/// A request's log records in one statement.
const INSERT_LOGS: &str = "INSERT INTO logs (trace_id, span_id, time_ns, observed_ns, \
    severity_number, severity_text, body, attributes, resource_id, scope_name, task_id) \
    SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::int8[], $4::int8[], $5::int4[], \
    $6::text[], $7::text[], $8::text[], $9::int8[], $10::text[], $11::text[])";

struct PgSpanTx<'c>(&'c mut PgConnection);

async fn insert_resources(
    conn: &mut PgConnection,
    resources: &[NewResource],
) -> Result<(), StoreError> {
    // In id order, so two requests inserting the same new resources cannot deadlock.
    let mut resources: Vec<&NewResource> = resources.iter().collect();
    resources.sort_unstable_by_key(|resource| resource.id);
    if resources.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO resources (id, attributes, service_name) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[]) ON CONFLICT (id) DO NOTHING",
    )
    .bind(resources.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(
        resources
            .iter()
            .map(|r| r.attributes_json.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        resources
            .iter()
            .map(|r| r.service_name.as_str())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SpanTx for PgSpanTx<'_> {
    async fn insert_resources(&mut self, resources: &[NewResource]) -> Result<(), StoreError> {
        insert_resources(self.0, resources).await
    }

    /// Concurrent requests for one trace would each merge into the job row they read and
    /// overwrite each other: the row is created if missing (an empty placeholder, committed
    /// only with this transaction's spans) and locked until commit. Locks are taken in trace id
    /// order (`by_trace`), so two requests cannot deadlock on each other's jobs.
    async fn job_by_trace(&mut self, trace_id: TraceId) -> Result<Option<JobRow>, StoreError> {
        sqlx::query(
            "INSERT INTO jobs (id, trace_id, kind, name, name_source, root_status, state, start_ns, \
             end_ns, span_count, error_count, failed_tasks, services) \
             VALUES ($1, $1, 0, '', 0, NULL, 1, 0, 0, 0, 0, '{}', '[]') \
             ON CONFLICT DO NOTHING",
        )
        .bind(&trace_id.0[..])
        .execute(&mut *self.0)
        .await?;
        Ok(sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE trace_id = $1 FOR UPDATE"
        ))
        .bind(&trace_id.0[..])
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn stored_span_ids(
        &mut self,
        trace_id: TraceId,
        spans: &[&NewSpan],
    ) -> Result<HashSet<SpanId>, StoreError> {
        let ids: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT span_id FROM spans WHERE trace_id = $1 AND span_id = ANY($2::bytea[])",
        )
        .bind(&trace_id.0[..])
        .bind(
            spans
                .iter()
                .map(|span| &span.span_id.0[..])
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *self.0)
        .await?;
        let stored: HashSet<SpanId> = ids.iter().filter_map(|id| SpanId::from_bytes(id)).collect();
        Ok(stored)
    }

    async fn insert_spans(&mut self, spans: &[&NewSpan]) -> Result<Inserted, StoreError> {
        // One statement of 16 arrays, whatever the batch's size: planned once and cached,
        // where a multi-row VALUES list of 16 parameters a row was a new statement per size.
        let affected = sqlx::query(INSERT_SPANS)
            .bind(spans.iter().map(|s| &s.trace_id.0[..]).collect::<Vec<_>>())
            .bind(spans.iter().map(|s| &s.span_id.0[..]).collect::<Vec<_>>())
            .bind(
                spans
                    .iter()
                    .map(|s| s.parent_span_id.as_ref().map(|p| &p.0[..]))
                    .collect::<Vec<_>>(),
            )
            .bind(spans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>())
            .bind(spans.iter().map(|s| s.kind).collect::<Vec<_>>())
            .bind(spans.iter().map(|s| s.start_ns).collect::<Vec<_>>())
            .bind(spans.iter().map(|s| s.end_ns).collect::<Vec<_>>())
            .bind(spans.iter().map(|s| s.status_code).collect::<Vec<_>>())
            .bind(
                spans
                    .iter()
                    .map(|s| s.status_message.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                spans
                    .iter()
                    .map(|s| s.attributes_json.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                spans
                    .iter()
                    .map(|s| s.events_json.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(spans.iter().map(|s| s.resource_id).collect::<Vec<_>>())
            .bind(
                spans
                    .iter()
                    .map(|s| s.service_name.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                spans
                    .iter()
                    .map(|s| s.scope_name.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                spans
                    .iter()
                    .map(|s| s.scope_version.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                spans
                    .iter()
                    .map(|s| s.task_key.as_deref())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *self.0)
            .await?
            .rows_affected();
        Ok(Inserted::Count(affected))
    }

    async fn latest_successes(
        &mut self,
        trace_id: TraceId,
        keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT task_key, max(start_ns) FROM spans WHERE status_code <> 2 AND trace_id = $1 \
             AND task_key = ANY($2::text[]) GROUP BY task_key",
        )
        .bind(&trace_id.0[..])
        .bind(keys)
        .fetch_all(&mut *self.0)
        .await?;
        let latest: HashMap<String, i64> = rows.into_iter().collect();
        Ok(latest)
    }

    async fn upsert_job(&mut self, job: &JobRow) -> Result<(), StoreError> {
        sqlx::query(UPSERT_JOB)
            .bind(&job.id)
            .bind(&job.trace_id)
            .bind(job.kind)
            .bind(&job.name)
            .bind(job.name_source)
            .bind(job.root_status)
            .bind(job.state)
            .bind(job.start_ns)
            .bind(job.end_ns)
            .bind(job.span_count)
            .bind(job.error_count)
            .bind(&job.failed_tasks)
            .bind(&job.services)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

impl PostgresStore {
    pub(super) async fn store_spans(&self, batch: SpanBatch) -> Result<WriteSummary, StoreError> {
        let spans = span_write::distinct_spans(&batch.spans);
        // A concurrent request may store one of our spans between the lookup and the insert:
        // then that transaction is dropped (rolled back) and the write starts over.
        for careful in [false, true, true, true] {
            let mut tx = self.write.begin().await?;
            let written =
                span_write::write_spans(&mut PgSpanTx(&mut tx), &spans, &batch.resources, careful)
                    .await?;
            if let Some(written) = written {
                tx.commit().await?;
                return Ok(WriteSummary {
                    written,
                    duplicates: batch.spans.len() as u64 - written,
                });
            }
        }
        Err(StoreError::Busy)
    }

    pub(super) async fn store_logs(&self, batch: LogBatch) -> Result<WriteSummary, StoreError> {
        let mut tx = self.write.begin().await?;
        insert_resources(&mut tx, &batch.resources).await?;
        let logs = &batch.logs;
        if !logs.is_empty() {
            sqlx::query(INSERT_LOGS)
                .bind(
                    logs.iter()
                        .map(|l| l.trace_id.as_ref().map(|t| &t.0[..]))
                        .collect::<Vec<_>>(),
                )
                .bind(
                    logs.iter()
                        .map(|l| l.span_id.as_ref().map(|s| &s.0[..]))
                        .collect::<Vec<_>>(),
                )
                .bind(logs.iter().map(|l| l.time_ns).collect::<Vec<_>>())
                .bind(logs.iter().map(|l| l.observed_ns).collect::<Vec<_>>())
                .bind(logs.iter().map(|l| l.severity_number).collect::<Vec<_>>())
                .bind(
                    logs.iter()
                        .map(|l| l.severity_text.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(logs.iter().map(|l| l.body.as_str()).collect::<Vec<_>>())
                .bind(
                    logs.iter()
                        .map(|l| l.attributes_json.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(logs.iter().map(|l| l.resource_id).collect::<Vec<_>>())
                .bind(
                    logs.iter()
                        .map(|l| l.scope_name.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    logs.iter()
                        .map(|l| l.task_id.as_deref())
                        .collect::<Vec<_>>(),
                )
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(WriteSummary {
            written: batch.logs.len() as u64,
            duplicates: 0,
        })
    }
}
