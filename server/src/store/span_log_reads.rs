//! The span, log and trace-outline reads of [`TraceStore`](super::TraceStore), for both
//! backends: span and log pages, attribute search, log marks.

use std::collections::HashMap;

use super::job_filter::{push_contains, push_span_ids};
use super::{PostgresStore, SqliteStore, StoreError};

const LOG_SELECT: &str = "SELECT l.id, l.trace_id, l.span_id, l.time_ns, l.severity_number, \
    l.severity_text, l.body, l.attributes, r.attributes AS resource \
    FROM logs l JOIN resources r ON r.id = l.resource_id";

/// The telemetry reads over the concrete sqlx types of one backend (see `sql.rs` for why a
/// macro); `$dialect` writes the span statements (`span_query.rs`), `$value_contains` the
/// backend's JSON value test.
macro_rules! impl_span_log_reads {
    ($store:ty, $db:ty, $dialect:expr, $value_contains:path) => {
        impl $store {
            pub(super) async fn select_outline(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::SpanOutline>, StoreError> {
                let rows = self.outline_rows(trace_id).await?;
                // The runner identity lives in the few resources the spans share.
                let resource_ids: Vec<i64> = rows
                    .iter()
                    .map(|row| row.resource_id)
                    .collect::<std::collections::BTreeSet<i64>>()
                    .into_iter()
                    .collect();
                let mut runners = HashMap::new();
                for chunk in resource_ids.chunks(1000) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id, attributes FROM resources WHERE id IN (",
                    );
                    let mut list = select.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    select.push(")");
                    let resources: Vec<(i64, String)> =
                        select.build_query_as().fetch_all(&self.read).await?;
                    for (id, attributes) in resources {
                        runners.insert(id, super::rows::runner_of(&attributes)?);
                    }
                }
                Ok(rows
                    .into_iter()
                    .map(|row| row.into_model(&runners))
                    .collect())
            }

            /// The resources of a trace's spans, with their attributes: few, so searches match
            /// them here rather than in SQL.
            async fn trace_resources(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<(i64, app::model::Attributes)>, StoreError> {
                let resources: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT id, attributes FROM resources WHERE id IN \
                     (SELECT DISTINCT resource_id FROM spans WHERE trace_id = $1)",
                )
                .bind(&trace_id.0[..])
                .fetch_all(&self.read)
                .await?;
                resources
                    .into_iter()
                    .map(|(id, text)| {
                        serde_json::from_str::<app::model::Attributes>(&text)
                            .map(|attributes| (id, attributes))
                            .map_err(|e| StoreError::Corrupt(format!("resource attributes: {e}")))
                    })
                    .collect()
            }

            pub(super) async fn select_span_ids_with_value(
                &self,
                trace_id: super::TraceId,
                text: &str,
            ) -> Result<Vec<String>, StoreError> {
                let needle = text.to_lowercase();
                // Ingest keeps NUL out of stored text (and PostgreSQL refuses it bound).
                if needle.is_empty() || needle.contains('\0') {
                    return Ok(Vec::new());
                }
                let holds = |attributes: &app::model::Attributes| {
                    attributes.values().any(|value| {
                        app::model::value_text(value)
                            .to_lowercase()
                            .contains(&needle)
                    })
                };
                let resources: Vec<i64> = self
                    .trace_resources(trace_id)
                    .await?
                    .into_iter()
                    .filter(|(_, attributes)| holds(attributes))
                    .map(|(id, _)| id)
                    .collect();
                if !needle.is_ascii() {
                    // SQL's lower() folds ASCII only (SQLite; PostgreSQL under the C locale): a
                    // needle beyond ASCII is matched here, over the trace's span attributes, so
                    // both backends fold case alike (one scan of the trace, as in SQL).
                    let rows: Vec<(Vec<u8>, i64, String)> = sqlx::query_as(
                        "SELECT span_id, resource_id, attributes FROM spans WHERE trace_id = $1 \
                         ORDER BY start_ns, span_id",
                    )
                    .bind(&trace_id.0[..])
                    .fetch_all(&self.read)
                    .await?;
                    let mut ids = Vec::new();
                    for (id, resource, text) in rows {
                        let attributes: app::model::Attributes = serde_json::from_str(&text)
                            .map_err(|e| StoreError::Corrupt(format!("span attributes: {e}")))?;
                        if resources.contains(&resource) || holds(&attributes) {
                            ids.push(hex::encode(id));
                        }
                    }
                    return Ok(ids);
                }
                let mut select = sqlx::QueryBuilder::<$db>::new(
                    "SELECT s.span_id FROM spans s WHERE s.trace_id = ",
                );
                select.push_bind(trace_id.0.to_vec());
                select.push(" AND (");
                $value_contains(&mut select, needle);
                if !resources.is_empty() {
                    select.push(" OR s.resource_id IN (");
                    let mut list = select.separated(", ");
                    for id in resources {
                        list.push_bind(id);
                    }
                    select.push(")");
                }
                select.push(") ORDER BY s.start_ns, s.span_id");
                let rows: Vec<(Vec<u8>,)> = select.build_query_as().fetch_all(&self.read).await?;
                Ok(rows.into_iter().map(|(id,)| hex::encode(id)).collect())
            }

            pub(super) async fn select_span_ids_with_attributes(
                &self,
                trace_id: super::TraceId,
                terms: &[(String, String)],
            ) -> Result<Vec<String>, StoreError> {
                // Resource attributes are matched here, over the trace's few resources; span
                // attributes in SQL.
                let resources = self.trace_resources(trace_id).await?;
                let matching: Vec<Vec<i64>> = terms
                    .iter()
                    .map(|(key, value)| {
                        resources
                            .iter()
                            .filter(|(_, attributes)| {
                                attributes
                                    .get(key)
                                    .is_some_and(|found| app::model::value_text(found) == *value)
                            })
                            .map(|(id, _)| *id)
                            .collect()
                    })
                    .collect();
                let select = super::span_query::span_ids_with_attributes(
                    $dialect, trace_id, terms, &matching,
                );
                let rows: Vec<(Vec<u8>,)> = super::span_query::sqlx_query_as::<$db, _>(&select)
                    .fetch_all(&self.read)
                    .await?;
                Ok(rows.into_iter().map(|(id,)| hex::encode(id)).collect())
            }

            pub(super) async fn select_log_marks(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::LogMark>, StoreError> {
                let rows: Vec<(Option<Vec<u8>>, i64, i32)> = sqlx::query_as(
                    "SELECT span_id, time_ns, severity_number FROM logs \
                     WHERE trace_id = $1 ORDER BY time_ns, id",
                )
                .bind(&trace_id.0[..])
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(span_id, time_ns, severity_number)| app::model::LogMark {
                        span_id: span_id.as_deref().map(hex::encode),
                        time_ns,
                        severity_number,
                    })
                    .collect())
            }

            pub(super) async fn select_log_page(
                &self,
                trace_id: Option<super::TraceId>,
                query: &super::LogPageQuery,
            ) -> Result<Vec<(i64, app::model::LogRecord)>, StoreError> {
                let mut select = sqlx::QueryBuilder::<$db>::new(LOG_SELECT);
                select.push(" WHERE 1 = 1");
                if let Some(trace_id) = &trace_id {
                    select
                        .push(" AND l.trace_id = ")
                        .push_bind(trace_id.0.to_vec());
                }
                if let Some(service) = &query.service {
                    select
                        .push(" AND r.service_name = ")
                        .push_bind(service.as_str());
                }
                if let Some(task_id) = &query.task_id {
                    select.push(" AND l.task_id = ").push_bind(task_id.as_str());
                }
                push_span_ids(&mut select, "l.span_id", &query.span_ids);
                if query.unattached {
                    select.push(" AND l.span_id IS NULL");
                }
                if let Some(text) = &query.text {
                    push_contains(&mut select, "l.body", text);
                }
                if let Some(from_ns) = query.from_ns {
                    select.push(" AND l.time_ns >= ").push_bind(from_ns);
                }
                if let Some(to_ns) = query.to_ns {
                    select.push(" AND l.time_ns < ").push_bind(to_ns);
                }
                if !query.severities.is_empty() {
                    select.push(" AND (");
                    for (index, (low, high)) in query.severities.iter().enumerate() {
                        if index > 0 {
                            select.push(" OR ");
                        }
                        select.push("l.severity_number BETWEEN ").push_bind(*low);
                        select.push(" AND ").push_bind(*high);
                    }
                    select.push(")");
                }
                if let Some((time_ns, id)) = query.after {
                    select.push(" AND (l.time_ns, l.id) > (").push_bind(time_ns);
                    select.push(", ").push_bind(id).push(")");
                }
                select.push(" ORDER BY l.time_ns, l.id LIMIT ");
                select.push_bind(i64::from(
                    query.limit.clamp(1, super::span_query::MAX_PAGE_ROWS),
                ));
                let rows: Vec<super::rows::LogRow> =
                    select.build_query_as().fetch_all(&self.read).await?;
                rows.into_iter()
                    .map(super::rows::LogRow::into_model_with_id)
                    .collect()
            }
        }
    };
}

/// Some value of `attributes` contains `needle` (lowercase), ignoring ASCII case. SQLite:
/// booleans as `true`/`false`, as PostgreSQL writes them.
fn sqlite_value_contains(select: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>, needle: String) {
    select
        .push(
            "EXISTS (SELECT 1 FROM json_each(s.attributes) a WHERE instr(lower(CASE a.type \
             WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(a.value AS TEXT) END), ",
        )
        .push_bind(needle)
        .push(") > 0)");
}

/// Some value of `attributes` (as text) contains `needle` (lowercase), ignoring case.
fn postgres_value_contains(select: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, needle: String) {
    select
        .push(
            "EXISTS (SELECT 1 FROM jsonb_each_text(s.attributes::jsonb) a \
             WHERE strpos(lower(a.value), ",
        )
        .push_bind(needle)
        .push(") > 0)");
}

impl_span_log_reads!(
    SqliteStore,
    sqlx::Sqlite,
    super::span_query::Dialect::Sqlite,
    sqlite_value_contains
);
impl_span_log_reads!(
    PostgresStore,
    sqlx::Postgres,
    super::span_query::Dialect::Postgres,
    postgres_value_contains
);
