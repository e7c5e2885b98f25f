//! The span page's statement, written once for both backends as SQL text and its binds:
//! SQLite runs it through rusqlite on the bulk reader (sqlx-sqlite hands rows over one at a time
//! from its worker thread, ~14 µs a row: a 10,000-span page took 140 ms in that alone),
//! PostgreSQL through sqlx. Placeholders are numbered (`?N` on SQLite, `$N` on PostgreSQL) in
//! the order of `binds`. The attribute search's statement is here too: the same JSON tests.

use super::{SpanPageQuery, TraceId};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bind {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// SQL text and the values of its placeholders.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Statement {
    pub sql: String,
    pub binds: Vec<Bind>,
    dialect: Dialect,
    /// Written to be read in the order of `spans_by_trace_start`, and to be run with sorts
    /// off ([`in_trace_order`]).
    pub in_trace_order: bool,
}

impl Statement {
    fn new(dialect: Dialect, sql: &str) -> Self {
        Statement {
            sql: sql.to_owned(),
            binds: Vec::new(),
            dialect,
            in_trace_order: false,
        }
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the next placeholder, bound to `value`.
    fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        let mark = match self.dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        self.sql.push(mark);
        self.sql.push_str(&self.binds.len().to_string());
        self
    }
}

/// The stored span's columns ([`super::rows::SpanRow`]), its resource joined: SQLite's
/// statement (the join runs in the process).
const SPAN_SELECT: &str = "SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, \
    s.start_ns, s.end_ns, s.status_code, s.status_message, s.attributes, s.events, \
    r.attributes AS resource, s.scope_name, s.scope_version \
    FROM spans s JOIN resources r ON r.id = s.resource_id WHERE 1 = 1";

/// The same columns in the same order with the resource's id in place of its attributes:
/// PostgreSQL's statement. A page's spans share a few resources, whose attributes would
/// otherwise cross the connection and be decoded once per span; the reader looks them up
/// once (`backends.rs`, `PgSpanRow`).
const PG_SPAN_SELECT: &str = "SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, \
    s.start_ns, s.end_ns, s.status_code, s.status_message, s.attributes, s.events, \
    s.resource_id, s.scope_name, s.scope_version FROM spans s WHERE 1 = 1";

/// Most rows one page statement reads: the largest page the API serves (10,000) and the one
/// row more it asks for to know whether more follow (capped at 10,000, a full page of 10,000
/// never had a next cursor).
pub(super) const MAX_PAGE_ROWS: u32 = 10_001;

/// One page of spans by (start, span id): of one trace, or across traces.
pub(super) fn span_page(
    dialect: Dialect,
    trace_id: Option<TraceId>,
    query: &SpanPageQuery,
) -> Statement {
    let columns = match dialect {
        Dialect::Sqlite => SPAN_SELECT,
        Dialect::Postgres => PG_SPAN_SELECT,
    };
    let mut select = Statement::new(dialect, columns);
    select.in_trace_order = in_trace_order(dialect, trace_id, query);
    match trace_id {
        Some(trace_id) if select.in_trace_order => {
            let trace = || Bind::Blob(trace_id.0.to_vec());
            // The cursor on the index's three columns, so the page starts where it was left.
            match &query.after {
                Some((start_ns, span_id)) => select
                    .push(" AND (s.trace_id, s.start_ns, s.span_id) > (")
                    .bind(trace())
                    .push(", ")
                    .bind(Bind::Int(*start_ns))
                    .push(", ")
                    .bind(Bind::Blob(span_id.0.to_vec()))
                    .push(")"),
                None => select.push(" AND s.trace_id >= ").bind(trace()),
            };
            select.push(" AND s.trace_id <= ").bind(trace());
        }
        Some(trace_id) => {
            select
                .push(" AND s.trace_id = ")
                .bind(Bind::Blob(trace_id.0.to_vec()));
        }
        None => {}
    }
    if let Some(service) = &query.service {
        select
            .push(" AND s.service_name = ")
            .bind(Bind::Text(service.clone()));
    }
    for (key, value) in &query.attributes {
        select.push(" AND ");
        attribute_equals(&mut select, key, value);
    }
    if let Some(task_id) = &query.task_id {
        select
            .push(" AND s.task_key = ")
            .bind(Bind::Text(task_id.clone()));
    }
    if let Some(name) = &query.name {
        select
            .push(" AND lower(s.name) LIKE ")
            .bind(Bind::Text(super::job_filter::like_pattern(name)))
            .push(" ESCAPE '\\'");
    }
    if let Some(status) = query.status {
        select
            .push(" AND s.status_code = ")
            .bind(Bind::Int(i64::from(status)));
    }
    if !query.span_ids.is_empty() {
        select.push(" AND s.span_id IN (");
        for (index, span_id) in query.span_ids.iter().enumerate() {
            if index > 0 {
                select.push(", ");
            }
            select.bind(Bind::Blob(span_id.0.to_vec()));
        }
        select.push(")");
    }
    if let Some(from_ns) = query.from_ns {
        select.push(" AND s.start_ns >= ").bind(Bind::Int(from_ns));
    }
    if let Some(to_ns) = query.to_ns {
        select.push(" AND s.start_ns < ").bind(Bind::Int(to_ns));
    }
    if let Some((start_ns, span_id)) = &query.after
        && !select.in_trace_order
    {
        select
            .push(" AND (s.start_ns, s.span_id) > (")
            .bind(Bind::Int(*start_ns))
            .push(", ")
            .bind(Bind::Blob(span_id.0.to_vec()))
            .push(")");
    }
    let order = if select.in_trace_order {
        " ORDER BY s.trace_id, s.start_ns, s.span_id LIMIT "
    } else {
        " ORDER BY s.start_ns, s.span_id LIMIT "
    };
    select
        .push(order)
        .bind(Bind::Int(i64::from(query.limit.clamp(1, MAX_PAGE_ROWS))));
    select
}

/// Whether a page is read from PostgreSQL's index `spans_by_trace_start` in its order: a
/// trace's page, unless it names its spans (the primary key finds those, a sort of a few
/// rows follows). The planner would rather read a trace's spans through a bitmap scan (or
/// the whole table) and sort them, or walk `spans_by_start` across every trace's spans in
/// time and drop the others; measured on 1,000,000 spans of ten interleaved traces,
/// a 10,000-span page took 26–45 ms either way against 5–6 ms through the trace's index,
/// the 100,000-span outline 91–509 ms against 58–110 ms (docs/BENCHMARKS.md). PostgreSQL has
/// no index hints, so the statement leaves it no other plan without a sort: the trace is a
/// range (`trace_id >= $t AND trace_id <= $t`, the same rows as `=`, which would make the
/// order's leading `trace_id` redundant and let `spans_by_start` give the order), ordered
/// by the index's three columns, and run with sorts off for its transaction (`enable_sort`, `enable_incremental_sort`).
pub(super) fn in_trace_order(
    dialect: Dialect,
    trace_id: Option<TraceId>,
    query: &SpanPageQuery,
) -> bool {
    dialect == Dialect::Postgres && trace_id.is_some() && query.span_ids.is_empty()
}

/// The ids of a trace's spans whose attributes hold every `key=value` term, by start time; a
/// term also matches every span of the resources in its `resources` list (the trace's
/// resources holding it, matched by the caller).
pub(super) fn span_ids_with_attributes(
    dialect: Dialect,
    trace_id: TraceId,
    terms: &[(String, String)],
    resources: &[Vec<i64>],
) -> Statement {
    let mut select = Statement::new(dialect, "SELECT s.span_id FROM spans s WHERE s.trace_id = ");
    select.bind(Bind::Blob(trace_id.0.to_vec()));
    for (index, (key, value)) in terms.iter().enumerate() {
        select.push(" AND (");
        attribute_equals(&mut select, key, value);
        let matching = resources.get(index).map(Vec::as_slice).unwrap_or_default();
        if !matching.is_empty() {
            select.push(" OR s.resource_id IN (");
            for (position, id) in matching.iter().enumerate() {
                if position > 0 {
                    select.push(", ");
                }
                select.bind(Bind::Int(*id));
            }
            select.push(")");
        }
        select.push(")");
    }
    select.push(" ORDER BY s.start_ns, s.span_id");
    select
}

/// `statement` as a sqlx query (either backend) returning `O` rows.
pub(super) fn sqlx_query_as<'q, DB, O>(
    statement: &'q Statement,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    O: for<'r> sqlx::FromRow<'r, DB::Row>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::query_as::<DB, O>(&statement.sql);
    for bind in &statement.binds {
        query = match bind {
            Bind::Int(value) => query.bind(*value),
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Blob(bytes) => query.bind(bytes.as_slice()),
        };
    }
    query
}

/// `attributes[key]` equals `value` as text. SQLite: a JSON path, booleans as `true`/`false`
/// (not 1/0) so both backends agree; PostgreSQL: `->>` gives JSON scalars as text.
fn attribute_equals(select: &mut Statement, key: &str, value: &str) {
    match select.dialect {
        Dialect::Sqlite => {
            let path = format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
            select
                .push("(CASE json_type(s.attributes, ")
                .bind(Bind::Text(path.clone()))
                .push(") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ")
                .push("ELSE CAST(json_extract(s.attributes, ")
                .bind(Bind::Text(path))
                .push(") AS TEXT) END) = ")
                .bind(Bind::Text(value.to_owned()));
        }
        Dialect::Postgres => {
            select
                .push("(s.attributes::jsonb ->> ")
                .bind(Bind::Text(key.to_owned()))
                .push(") = ")
                .bind(Bind::Text(value.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SpanId;

    #[test]
    fn test_placeholders_are_numbered_in_the_order_of_their_binds() {
        let query = SpanPageQuery {
            name: Some("50%_Tile".to_owned()),
            attributes: vec![("tile".to_owned(), "7".to_owned())],
            span_ids: vec![SpanId([1; 8]), SpanId([2; 8])],
            after: Some((5, SpanId([3; 8]))),
            limit: 20_000,
            ..SpanPageQuery::default()
        };
        for (dialect, mark) in [(Dialect::Sqlite, '?'), (Dialect::Postgres, '$')] {
            let select = span_page(dialect, Some(TraceId([9; 16])), &query);
            let numbers: Vec<usize> = select
                .sql
                .split(mark)
                .skip(1)
                .map(|after| {
                    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse().unwrap_or(0)
                })
                .collect();
            let expected: Vec<usize> = (1..=select.binds.len()).collect();
            assert_eq!(numbers, expected, "{dialect:?}: {}", select.sql);
            // LIKE's wildcards in the name match themselves; the page size is capped.
            assert!(
                select
                    .binds
                    .contains(&Bind::Text("%50\\%\\_tile%".to_owned()))
            );
            assert_eq!(select.binds.last(), Some(&Bind::Int(10_001)));
        }
    }

    #[test]
    fn test_only_postgres_trace_pages_are_read_in_the_trace_index_order() {
        let trace = TraceId([9; 16]);
        let page = SpanPageQuery {
            after: Some((5, SpanId([3; 8]))),
            limit: 100,
            ..SpanPageQuery::default()
        };
        let select = span_page(Dialect::Postgres, Some(trace), &page);
        assert!(select.in_trace_order);
        assert!(
            select.sql.contains(
                "(s.trace_id, s.start_ns, s.span_id) > ($1, $2, $3) AND s.trace_id <= $4"
            ),
            "{}",
            select.sql
        );
        assert!(!select.sql.contains("s.trace_id ="), "{}", select.sql);
        assert!(
            select
                .sql
                .ends_with("ORDER BY s.trace_id, s.start_ns, s.span_id LIMIT $5")
        );
        assert_eq!(select.binds[0], select.binds[3]);
        let first = SpanPageQuery {
            after: None,
            ..page.clone()
        };
        let select = span_page(Dialect::Postgres, Some(trace), &first);
        assert!(
            select.sql.contains("s.trace_id >= $1 AND s.trace_id <= $2"),
            "{}",
            select.sql
        );
        // Spans named by id, SQLite and pages across traces keep `=` and the plain order.
        let named = SpanPageQuery {
            span_ids: vec![SpanId([1; 8])],
            ..page.clone()
        };
        for select in [
            span_page(Dialect::Postgres, Some(trace), &named),
            span_page(Dialect::Sqlite, Some(trace), &page),
        ] {
            assert!(!select.in_trace_order);
            assert!(select.sql.contains("s.trace_id = "), "{}", select.sql);
            assert!(select.sql.contains("(s.start_ns, s.span_id) > ("));
        }
        assert!(!span_page(Dialect::Postgres, None, &page).in_trace_order);
    }
}
