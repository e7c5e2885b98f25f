//! PostgreSQL's write path for spans and logs: multi-row statements in one sqlx transaction.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::rows::JobRow;
use super::span_write::{self, Inserted, JOB_COLUMNS, SpanTx, UPSERT_JOB};
use super::{
    LogBatch, NewResource, NewSpan, PostgresStore, SpanBatch, SpanId, StoreError, TraceId,
    WriteSummary,
};

/// Rows per multi-row statement: at 16 parameters each, under PostgreSQL's 65535.
const CHUNK: usize = 1000;

struct PgSpanTx<'c>(&'c mut PgConnection);

async fn insert_resources(
    conn: &mut PgConnection,
    resources: &[NewResource],
) -> Result<(), StoreError> {
    // In id order, so two requests inserting the same new resources cannot deadlock.
    let mut resources: Vec<&NewResource> = resources.iter().collect();
    resources.sort_unstable_by_key(|resource| resource.id);
    for chunk in resources.chunks(CHUNK) {
        let mut insert =
            QueryBuilder::<Postgres>::new("INSERT INTO resources (id, attributes, service_name) ");
        insert.push_values(chunk, |mut row, resource| {
            row.push_bind(resource.id)
                .push_bind(resource.attributes_json.as_str())
                .push_bind(resource.service_name.as_str());
        });
        insert.push(" ON CONFLICT (id) DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
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
        let mut stored = HashSet::new();
        for chunk in spans.chunks(CHUNK) {
            let mut select =
                QueryBuilder::<Postgres>::new("SELECT span_id FROM spans WHERE trace_id = ");
            select.push_bind(&trace_id.0[..]).push(" AND span_id IN (");
            let mut list = select.separated(", ");
            for span in chunk {
                list.push_bind(&span.span_id.0[..]);
            }
            select.push(")");
            let ids: Vec<Vec<u8>> = select.build_query_scalar().fetch_all(&mut *self.0).await?;
            stored.extend(ids.iter().filter_map(|id| SpanId::from_bytes(id)));
        }
        Ok(stored)
    }

    async fn insert_spans(&mut self, spans: &[&NewSpan]) -> Result<Inserted, StoreError> {
        let mut affected = 0;
        for chunk in spans.chunks(CHUNK) {
            let mut insert = QueryBuilder::<Postgres>::new(
                "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, \
                 status_code, status_message, attributes, events, resource_id, service_name, \
                 scope_name, scope_version, task_key) ",
            );
            insert.push_values(chunk, |mut row, span| {
                row.push_bind(&span.trace_id.0[..])
                    .push_bind(&span.span_id.0[..])
                    .push_bind(span.parent_span_id.as_ref().map(|p| &p.0[..]))
                    .push_bind(span.name.as_str())
                    .push_bind(span.kind)
                    .push_bind(span.start_ns)
                    .push_bind(span.end_ns)
                    .push_bind(span.status_code)
                    .push_bind(span.status_message.as_str())
                    .push_bind(span.attributes_json.as_str())
                    .push_bind(span.events_json.as_str())
                    .push_bind(span.resource_id)
                    .push_bind(span.service_name.as_str())
                    .push_bind(span.scope_name.as_str())
                    .push_bind(span.scope_version.as_str())
                    .push_bind(span.task_key.as_deref());
            });
            insert.push(" ON CONFLICT (trace_id, span_id) DO NOTHING");
            affected += insert.build().execute(&mut *self.0).await?.rows_affected();
        }
        Ok(Inserted::Count(affected))
    }

    async fn latest_successes(
        &mut self,
        trace_id: TraceId,
        keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut latest = HashMap::new();
        for chunk in keys.chunks(CHUNK) {
            let mut select = QueryBuilder::<Postgres>::new(
                "SELECT task_key, max(start_ns) FROM spans WHERE status_code <> 2 AND trace_id = ",
            );
            select.push_bind(&trace_id.0[..]).push(" AND task_key IN (");
            let mut list = select.separated(", ");
            for key in chunk {
                list.push_bind(*key);
            }
            select.push(") GROUP BY task_key");
            let rows: Vec<(String, i64)> = select.build_query_as().fetch_all(&mut *self.0).await?;
            latest.extend(rows);
        }
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
        for chunk in batch.logs.chunks(CHUNK) {
            let mut insert = QueryBuilder::<Postgres>::new(
                "INSERT INTO logs (trace_id, span_id, time_ns, observed_ns, severity_number, \
                 severity_text, body, attributes, resource_id, scope_name, task_id) ",
            );
            insert.push_values(chunk, |mut row, log| {
                row.push_bind(log.trace_id.as_ref().map(|t| &t.0[..]))
                    .push_bind(log.span_id.as_ref().map(|s| &s.0[..]))
                    .push_bind(log.time_ns)
                    .push_bind(log.observed_ns)
                    .push_bind(log.severity_number)
                    .push_bind(log.severity_text.as_str())
                    .push_bind(log.body.as_str())
                    .push_bind(log.attributes_json.as_str())
                    .push_bind(log.resource_id)
                    .push_bind(log.scope_name.as_str())
                    .push_bind(log.task_id.as_deref());
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(WriteSummary {
            written: batch.logs.len() as u64,
            duplicates: 0,
        })
    }
}
