//! The WHERE conditions of job queries, shared by the job list and workflow job queries.

use app::model::{JobFilter, JobState};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// `%text%` for a case-insensitive substring match on `lower(column) LIKE … ESCAPE '\'`, with
/// LIKE's wildcards in `text` matched literally.
pub(super) fn like_pattern(text: &str) -> String {
    like_pattern_exact(&text.to_lowercase())
}

/// `%text%` matching `text` literally and case-sensitively.
fn like_pattern_exact(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// ` AND column contains text`, ignoring case; `%` and `_` in `text` match themselves.
pub(super) fn push_contains<'a, DB>(select: &mut QueryBuilder<'a, DB>, column: &str, text: &str)
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
{
    select
        .push(format!(" AND lower({column}) LIKE "))
        .push_bind(like_pattern(text));
    select.push(" ESCAPE '\\'");
}

/// ` AND column IN (…)` over `span_ids` (none: no condition).
pub(super) fn push_span_ids<'a, DB>(
    select: &mut QueryBuilder<'a, DB>,
    column: &str,
    span_ids: &[super::SpanId],
) where
    DB: Database,
    Vec<u8>: Encode<'a, DB> + Type<DB>,
{
    if span_ids.is_empty() {
        return;
    }
    select.push(format!(" AND {column} IN ("));
    let mut list = select.separated(", ");
    for span_id in span_ids {
        list.push_bind(span_id.0.to_vec());
    }
    select.push(")");
}

/// ` AND` the job is in one of `states` (none: no condition).
pub(super) fn push_states<'a, DB>(select: &mut QueryBuilder<'a, DB>, states: &[JobState])
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
{
    if states.is_empty() {
        return;
    }
    select.push(" AND state IN (");
    let mut list = select.separated(", ");
    for state in states {
        list.push_bind(state.code());
    }
    select.push(")");
}

/// ` AND` the job has a task in one of `clusters` (none: no condition).
pub(super) fn push_in_clusters<'a, DB>(select: &mut QueryBuilder<'a, DB>, clusters: &[String])
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
{
    if clusters.is_empty() {
        return;
    }
    select.push(
        " AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.cluster_slug IN (",
    );
    let mut list = select.separated(", ");
    for cluster in clusters {
        list.push_bind(cluster.clone());
    }
    select.push("))");
}

/// How a backend finds names containing a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameSearch {
    /// `lower(name) LIKE`, which PostgreSQL serves from its trigram index (migration 0012)
    /// where it has one.
    Like,
    /// SQLite: the jobs whose `seq` the FTS5 trigram table `job_names` finds, then the same
    /// `LIKE` on those few.
    Trigrams,
}

/// Whether FTS5's trigram index can narrow a search for `text`: three characters at least
/// (trigrams), none that `LIKE` would read as a wildcard or escape.
fn trigram_searchable(text: &str) -> bool {
    text.chars().count() >= 3 && !text.contains(['%', '_', '\\'])
}

/// The job list's conditions (after `WHERE 1 = 1`); `with_states` false leaves the state
/// filter out (the state chips count every state).
pub(super) fn push_job_filter<'a, DB>(
    select: &mut QueryBuilder<'a, DB>,
    filter: &'a JobFilter,
    with_states: bool,
    names: NameSearch,
) where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    if with_states {
        push_states(select, &filter.states);
    }
    if let Some(name) = &filter.name {
        if names == NameSearch::Trigrams && trigram_searchable(name) {
            select
                .push(" AND seq IN (SELECT rowid FROM job_names WHERE name LIKE ")
                .push_bind(format!("%{name}%"))
                .push(")");
        }
        push_contains(select, "name", name);
    }
    if let Some(from_ns) = filter.from_ns {
        select.push(" AND start_ns >= ").push_bind(from_ns);
    }
    if let Some(to_ns) = filter.to_ns {
        select.push(" AND start_ns < ").push_bind(to_ns);
    }
    if let Some(min) = filter.min_duration_ns {
        select.push(" AND (end_ns - start_ns) >= ").push_bind(min);
    }
    if let Some(max) = filter.max_duration_ns {
        select.push(" AND (end_ns - start_ns) <= ").push_bind(max);
    }
    if let Some(cluster) = &filter.cluster {
        push_in_clusters(select, std::slice::from_ref(cluster));
    }
    if let Some(service) = &filter.service {
        // `services` is a JSON array of names: match one element exactly.
        let quoted = serde_json::to_string(service).unwrap_or_default();
        select
            .push(" AND services LIKE ")
            .push_bind(like_pattern_exact(&quoted));
        select.push(" ESCAPE '\\'");
    }
    match filter.has_errors {
        Some(true) => {
            select.push(" AND error_count > 0");
        }
        Some(false) => {
            select.push(" AND error_count = 0");
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_only_plain_texts_of_three_characters_use_trigrams() {
        assert!(trigram_searchable("reindex"));
        assert!(trigram_searchable("äöü"));
        assert!(!trigram_searchable("ab"));
        assert!(!trigram_searchable("50%"));
        assert!(!trigram_searchable("a_b"));
        assert!(!trigram_searchable("a\\bc"));
    }

    #[test]
    fn test_like_wildcards_match_literally() {
        assert_eq!(like_pattern("50%_A\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(like_pattern_exact("\"A_b\""), "%\"A\\_b\"%");
    }
}
