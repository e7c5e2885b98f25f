//! The WHERE conditions of job queries, shared by the job list and workflow job queries.

use app::model::{JobFilter, JobSort, JobState};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// `%text%` for a case-insensitive substring match on `lower(column) LIKE … ESCAPE '\'`, with
/// LIKE's wildcards in `text` matched literally.
pub(super) fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
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

/// ` AND` the job's `column` is one of `states` (none: no condition).
pub(super) fn push_states<'a, DB>(
    select: &mut QueryBuilder<'a, DB>,
    column: &str,
    states: &[JobState],
) where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
{
    if states.is_empty() {
        return;
    }
    select.push(format!(" AND {column} IN ("));
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

/// Where the job list reads its rows from. Without a service filter, `jobs`; with one, that
/// service's rows of `job_services` (migration 0013: one per job and service, in start order,
/// with copies of the columns the list filters by), joined to `jobs` for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JobSource {
    Jobs,
    Service,
}

impl JobSource {
    pub(super) fn of(filter: &JobFilter) -> Self {
        if filter.service.is_some() {
            Self::Service
        } else {
            Self::Jobs
        }
    }

    /// The column of each job value the list filters, sorts and counts by, in this source.
    pub(super) fn state(self) -> &'static str {
        match self {
            Self::Jobs => "state",
            Self::Service => "job_state",
        }
    }

    fn start(self) -> &'static str {
        match self {
            Self::Jobs => "start_ns",
            Self::Service => "job_start_ns",
        }
    }

    fn errors(self) -> &'static str {
        match self {
            Self::Jobs => "error_count",
            Self::Service => "job_errors",
        }
    }

    pub(super) fn id(self) -> &'static str {
        match self {
            Self::Jobs => "id",
            Self::Service => "job_id",
        }
    }

    /// The sort key of `sort`.
    pub(super) fn key(self, sort: JobSort) -> &'static str {
        match (self, sort) {
            (Self::Jobs, JobSort::Newest) => "start_ns",
            (Self::Jobs, JobSort::Longest) => "(end_ns - start_ns)",
            (Self::Service, JobSort::Newest) => "job_start_ns",
            (Self::Service, JobSort::Longest) => "(job_end_ns - job_start_ns)",
        }
    }

    fn duration(self) -> &'static str {
        self.key(JobSort::Longest)
    }

    /// `FROM … WHERE <the source's own condition>`, to which [`push_job_filter`] appends.
    /// `with_jobs` false leaves `jobs` out where the source can (the filter reads no column
    /// only `jobs` has: see [`needs_jobs`]).
    pub(super) fn push_from<'a, DB>(
        self,
        select: &mut QueryBuilder<'a, DB>,
        filter: &'a JobFilter,
        with_jobs: bool,
    ) where
        DB: Database,
        String: Encode<'a, DB> + Type<DB>,
    {
        match (self, &filter.service) {
            (Self::Service, Some(service)) => {
                select.push(if with_jobs {
                    " FROM job_services JOIN jobs ON jobs.id = job_services.job_id WHERE \
                     job_services.service = "
                } else {
                    " FROM job_services WHERE service = "
                });
                select.push_bind(service.clone());
            }
            _ => {
                select.push(" FROM jobs WHERE 1 = 1");
            }
        }
    }
}

/// Whether `filter` reads a column that only `jobs` has (the name, the clusters of its tasks).
/// The service filter is [`JobSource::Service`]'s own condition.
pub(super) fn needs_jobs(filter: &JobFilter) -> bool {
    filter.name.is_some() || filter.cluster.is_some()
}

/// The job list's conditions (after [`JobSource::push_from`]), on `source`'s columns;
/// `with_states` false leaves the state filter out (the state chips count every state).
pub(super) fn push_job_filter<'a, DB>(
    select: &mut QueryBuilder<'a, DB>,
    source: JobSource,
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
        push_states(select, source.state(), &filter.states);
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
        select
            .push(format!(" AND {} >= ", source.start()))
            .push_bind(from_ns);
    }
    if let Some(to_ns) = filter.to_ns {
        select
            .push(format!(" AND {} < ", source.start()))
            .push_bind(to_ns);
    }
    if let Some(min) = filter.min_duration_ns {
        select
            .push(format!(" AND {} >= ", source.duration()))
            .push_bind(min);
    }
    if let Some(max) = filter.max_duration_ns {
        select
            .push(format!(" AND {} <= ", source.duration()))
            .push_bind(max);
    }
    if let Some(cluster) = &filter.cluster {
        push_in_clusters(select, std::slice::from_ref(cluster));
    }
    push_has_errors(select, source.errors(), filter.has_errors);
}

/// ` AND` the job's error count in `column` is above zero (`Some(true)`) or zero (`Some(false)`).
pub(super) fn push_has_errors<DB: Database>(
    select: &mut QueryBuilder<'_, DB>,
    column: &str,
    has_errors: Option<bool>,
) {
    match has_errors {
        Some(true) => {
            select.push(format!(" AND {column} > 0"));
        }
        Some(false) => {
            select.push(format!(" AND {column} = 0"));
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
    }
}
