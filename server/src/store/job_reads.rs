//! The job list and stats reads of [`TraceStore`](super::TraceStore), for both backends:
//! filters, keyset cursors, state counts, task summaries of workflow jobs.

use std::collections::HashMap;

use super::cursor;
use super::job_filter::{JobSource, NameSearch, needs_jobs, push_job_filter};
use super::span_write::JOB_COLUMNS;
use super::{PostgresStore, SqliteStore, StoreError};
use app::model::JobSort;

fn sort_tag(sort: JobSort) -> &'static str {
    match sort {
        JobSort::Newest => "n",
        JobSort::Longest => "d",
    }
}

/// Keyset cursor of the job list: the order and the last row's (sort key, id).
fn encode_cursor(sort: JobSort, key: i64, id: &[u8]) -> String {
    cursor::encode(&[sort_tag(sort), &key.to_string(), &hex::encode(id)])
}

/// A cursor is only valid for the order it was made in.
fn decode_cursor(cursor: &str, sort: JobSort) -> Result<(i64, Vec<u8>), StoreError> {
    let [tag, key, id] = cursor::decode(cursor).ok_or(StoreError::InvalidCursor)?;
    if tag != sort_tag(sort) {
        return Err(StoreError::InvalidCursor);
    }
    let key = key.parse().map_err(|_| StoreError::InvalidCursor)?;
    let id = hex::decode(id).map_err(|_| StoreError::InvalidCursor)?;
    if id.len() != 16 {
        return Err(StoreError::InvalidCursor);
    }
    Ok((key, id))
}

/// The job reads over the concrete sqlx types of one backend (see `sql.rs` for why a macro).
macro_rules! impl_job_reads {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(super) async fn select_jobs(
                &self,
                query: &app::model::JobListQuery,
            ) -> Result<app::model::JobPage, StoreError> {
                let limit = i64::from(query.limit.clamp(1, 1000));
                let source = JobSource::of(&query.filter);
                // The sort key and its keyset position; the id breaks ties.
                let (key, id_column) = (source.key(query.sort), source.id());
                let mut select =
                    sqlx::QueryBuilder::<$db>::new(format!("SELECT {JOB_COLUMNS}"));
                source.push_from(&mut select, &query.filter, true);
                push_job_filter(&mut select, source, &query.filter, true, Self::NAME_SEARCH);
                if let Some(cursor) = &query.cursor {
                    let (value, id) = decode_cursor(cursor, query.sort)?;
                    select
                        .push(format!(" AND ({key}, {id_column}) < ("))
                        .push_bind(value);
                    select.push(", ").push_bind(id).push(")");
                }
                select
                    .push(format!(" ORDER BY {key} DESC, {id_column} DESC LIMIT "))
                    .push_bind(limit + 1);
                let rows: Vec<super::rows::JobRow> =
                    select.build_query_as().fetch_all(&self.read).await?;
                let mut page = page_of(rows, limit, query.sort)?;
                self.attach_task_summaries(&mut page.jobs).await?;
                Ok(page)
            }

            pub(super) async fn count_job_states(
                &self,
                filter: &app::model::JobFilter,
            ) -> Result<Vec<app::model::StateCount>, StoreError> {
                let unfiltered = app::model::JobFilter {
                    states: filter.states.clone(),
                    ..app::model::JobFilter::default()
                };
                let rows: Vec<(i32, i64)> = if *filter == unfiltered {
                    // The counts the triggers keep, with the deltas not folded in yet, read in
                    // one statement (one snapshot: a fold moves rows between them atomically).
                    sqlx::query_as(
                        "SELECT state, CAST(sum(n) AS BIGINT) FROM (SELECT state, n FROM \
                         job_state_counts UNION ALL SELECT state, n FROM job_state_deltas) c \
                         GROUP BY state HAVING sum(n) > 0",
                    )
                    .fetch_all(&self.read)
                    .await?
                } else if super::start_buckets::answers(filter) {
                    // A time window and the errors filter: the kept per-minute and per-hour
                    // counts plus the window's ends, in one statement (one snapshot).
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT state, CAST(sum(n) AS BIGINT) FROM (",
                    );
                    super::start_buckets::push_counts(&mut select, filter, Self::START_DELTAS);
                    select.push(") c GROUP BY state HAVING sum(n) > 0");
                    self.serial_counts(&mut select).await?
                } else {
                    // Grouped by `+state`, an expression: SQLite would otherwise walk the
                    // state index to skip the grouping sort, one row lookup per job (3x the
                    // time of a scan when the filter has no index of its own).
                    let source = JobSource::of(filter);
                    let mut select = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT +{}, count(*)",
                        source.state()
                    ));
                    source.push_from(&mut select, filter, needs_jobs(filter));
                    push_job_filter(&mut select, source, filter, false, Self::NAME_SEARCH);
                    select.push(" GROUP BY 1");
                    select.build_query_as().fetch_all(&self.read).await?
                };
                let mut counts: Vec<app::model::StateCount> = rows
                    .into_iter()
                    .filter_map(|(state, count)| {
                        app::model::JobState::from_code(state)
                            .map(|state| app::model::StateCount { state, count })
                    })
                    .collect();
                counts.sort_by_key(|c| c.state.code());
                Ok(counts)
            }

            pub(super) async fn select_job(
                &self,
                job: super::JobRef,
            ) -> Result<Option<app::model::Job>, StoreError> {
                let row: Option<super::rows::JobRow> = sqlx::query_as(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 OR trace_id = $1 \
                     ORDER BY (id = $1) DESC LIMIT 1"
                ))
                .bind(&job.0[..])
                .fetch_optional(&self.read)
                .await?;
                let mut jobs: Vec<app::model::Job> = row
                    .map(super::rows::JobRow::into_model)
                    .transpose()?
                    .into_iter()
                    .collect();
                self.attach_task_summaries(&mut jobs).await?;
                Ok(jobs.pop())
            }

            pub(super) async fn count_rows(&self) -> Result<app::model::Stats, StoreError> {
                let (jobs, spans, logs): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM spans), \
                     (SELECT count(*) FROM logs)",
                )
                .fetch_one(&self.read)
                .await?;
                Ok(app::model::Stats { jobs, spans, logs })
            }

            /// Task counts by state and clusters, for the workflow jobs among `jobs`.
            async fn attach_task_summaries(
                &self,
                jobs: &mut [app::model::Job],
            ) -> Result<(), StoreError> {
                let ids: Vec<Vec<u8>> = jobs
                    .iter()
                    .filter_map(|job| uuid::Uuid::parse_str(&job.id).ok())
                    .map(|id| id.as_bytes().to_vec())
                    .collect();
                if ids.is_empty() {
                    return Ok(());
                }
                let mut select = sqlx::QueryBuilder::<$db>::new(
                    "SELECT job_id, state, cluster_slug, count(*) FROM tasks WHERE job_id IN (",
                );
                let mut list = select.separated(", ");
                for id in &ids {
                    list.push_bind(id.as_slice());
                }
                select.push(") GROUP BY job_id, state, cluster_slug");
                let rows: Vec<(Vec<u8>, i32, String, i64)> =
                    select.build_query_as().fetch_all(&self.read).await?;
                let mut summaries: HashMap<Vec<u8>, app::model::TaskSummary> = HashMap::new();
                for (job_id, state, cluster, count) in rows {
                    let summary = summaries.entry(job_id).or_default();
                    let state = super::error::task_state_of(state)?;
                    summary.add(state.as_str(), count);
                    if !summary.clusters.contains(&cluster) {
                        summary.clusters.push(cluster);
                    }
                }
                // The first few progress indicators of each (by label): what a list row shows.
                let mut select = sqlx::QueryBuilder::<$db>::new(
                    "SELECT job_id, label, total, done FROM (SELECT job_id, label, total, done, \
                     row_number() OVER (PARTITION BY job_id ORDER BY label) AS n \
                     FROM job_progress WHERE job_id IN (",
                );
                let mut list = select.separated(", ");
                for id in &ids {
                    list.push_bind(id.as_slice());
                }
                select.push(") ) AS p WHERE n <= ");
                select.push_bind(LISTED_PROGRESS);
                select.push(" ORDER BY job_id, label");
                let rows: Vec<(Vec<u8>, String, i64, i64)> =
                    select.build_query_as().fetch_all(&self.read).await?;
                for (job_id, label, total, done) in rows {
                    if let Some(summary) = summaries.get_mut(&job_id) {
                        summary
                            .progress
                            .push(app::model::JobProgress { label, total, done });
                    }
                }
                for job in jobs.iter_mut() {
                    if let Ok(id) = uuid::Uuid::parse_str(&job.id) {
                        job.tasks = summaries.remove(id.as_bytes().as_slice());
                    }
                }
                Ok(())
            }
        }
    };
}

/// Progress indicators a listed job carries (the first by label; the job page has them all).
const LISTED_PROGRESS: i64 = 3;

/// Turns `limit + 1` fetched rows into a page and the cursor after its last row.
fn page_of(
    mut rows: Vec<super::rows::JobRow>,
    limit: i64,
    sort: JobSort,
) -> Result<app::model::JobPage, StoreError> {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(|row| {
            let key = match sort {
                JobSort::Newest => row.start_ns,
                JobSort::Longest => row.end_ns - row.start_ns,
            };
            encode_cursor(sort, key, &row.id)
        })
    } else {
        None
    };
    let jobs = rows
        .into_iter()
        .map(super::rows::JobRow::into_model)
        .collect::<Result<_, _>>()?;
    Ok(app::model::JobPage {
        jobs,
        next_cursor,
        state_counts: Vec::new(),
    })
}

impl_job_reads!(SqliteStore, sqlx::Sqlite);
impl_job_reads!(PostgresStore, sqlx::Postgres);

impl SqliteStore {
    const NAME_SEARCH: NameSearch = NameSearch::Trigrams;
    /// The triggers keep `job_start_counts` themselves.
    const START_DELTAS: bool = false;

    async fn serial_counts(
        &self,
        select: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>,
    ) -> Result<Vec<(i32, i64)>, StoreError> {
        Ok(select.build_query_as().fetch_all(&self.read).await?)
    }

    /// SQLite's triggers keep `job_state_counts` directly (one writer): nothing to fold.
    pub(super) async fn fold_state_deltas(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

impl PostgresStore {
    const NAME_SEARCH: NameSearch = NameSearch::Like;
    /// Readers add `job_start_deltas` not folded yet.
    const START_DELTAS: bool = true;

    /// The chips of a window from the kept counts, without parallel workers: the planner
    /// starts two for the window's ends (up to two minutes of jobs), which cost 6–10 ms to
    /// start on 2 cores against 2–3 ms for the work itself (`EXPLAIN ANALYZE` on 1,000,000 jobs).
    async fn serial_counts(
        &self,
        select: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>,
    ) -> Result<Vec<(i32, i64)>, StoreError> {
        let mut tx = self
            .read_with("SET LOCAL max_parallel_workers_per_gather = 0")
            .await?;
        let rows = select.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Moves the deltas the triggers appended into `job_state_counts`, in one statement: each
    /// delta row is deleted by one fold (a concurrent fold waits for the rows this one
    /// deletes, then passes them over), and the counts are updated in state order. Two folds
    /// of one large burst could still deadlock on the delta rows; PostgreSQL then fails one,
    /// which is logged and folds again a second later.
    pub(super) async fn fold_state_deltas(&self) -> Result<u64, StoreError> {
        let moved = self.fold_total_deltas().await? + self.fold_start_deltas().await?;
        Ok(u64::try_from(moved).unwrap_or_default())
    }

    async fn fold_total_deltas(&self) -> Result<i64, StoreError> {
        let moved: i64 = sqlx::query_scalar(
            "WITH moved AS (DELETE FROM job_state_deltas RETURNING state, n), \
             folded AS (INSERT INTO job_state_counts (state, n) \
             SELECT state, sum(n) FROM moved GROUP BY state ORDER BY state \
             ON CONFLICT (state) DO UPDATE SET n = job_state_counts.n + excluded.n) \
             SELECT count(*) FROM moved",
        )
        .fetch_one(&self.write)
        .await?;
        if moved >= 10_000 {
            // The deleted rows stay in the table's pages until a vacuum, and every read of the
            // chips would scan them: after a large fold (a burst of new jobs) they go at once
            // rather than when autovacuum comes round.
            sqlx::query("VACUUM job_state_deltas")
                .execute(&self.write)
                .await?;
        }
        Ok(moved)
    }

    /// The same for the per-minute and per-hour counts of `job_start_counts`, then deletes the
    /// buckets the fold brought to zero, in the same transaction: the fold's upsert locked
    /// those rows (in key order, as a concurrent fold does), so the delete waits for no one
    /// and cannot deadlock with another server's fold, and no bucket stays behind at zero.
    async fn fold_start_deltas(&self) -> Result<i64, StoreError> {
        let mut tx = self.write.begin().await?;
        // The number of deltas moved, and the keys of the buckets now at zero.
        let (moved, widths, buckets, states, errored): (
            i64,
            Vec<i32>,
            Vec<i64>,
            Vec<i32>,
            Vec<i32>,
        ) = sqlx::query_as(
            "WITH moved AS (DELETE FROM job_start_deltas \
                 RETURNING width_s, bucket, state, errored, n), \
                 folded AS (INSERT INTO job_start_counts (width_s, bucket, state, errored, n) \
                 SELECT width_s, bucket, state, errored, sum(n) FROM moved \
                 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 \
                 ON CONFLICT (width_s, bucket, state, errored) \
                 DO UPDATE SET n = job_start_counts.n + excluded.n \
                 RETURNING width_s, bucket, state, errored, n) \
                 SELECT (SELECT count(*) FROM moved), \
                 coalesce(array_agg(width_s), '{}'), coalesce(array_agg(bucket), '{}'), \
                 coalesce(array_agg(state), '{}'), coalesce(array_agg(errored), '{}') \
                 FROM folded WHERE n = 0",
        )
        .fetch_one(&mut *tx)
        .await?;
        if !widths.is_empty() {
            sqlx::query(
                "DELETE FROM job_start_counts WHERE n = 0 \
                 AND (width_s, bucket, state, errored) IN \
                 (SELECT * FROM unnest($1::INTEGER[], $2::BIGINT[], $3::INTEGER[], $4::INTEGER[]))",
            )
            .bind(widths)
            .bind(buckets)
            .bind(states)
            .bind(errored)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if moved >= 10_000 {
            sqlx::query("VACUUM job_start_deltas")
                .execute(&self.write)
                .await?;
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cursor_round_trip() {
        let cursor = encode_cursor(JobSort::Longest, -42, &[9; 16]);
        assert_eq!(
            decode_cursor(&cursor, JobSort::Longest).ok(),
            Some((-42, vec![9; 16]))
        );
        assert!(
            decode_cursor(&cursor, JobSort::Newest).is_err(),
            "made for another order"
        );
    }

    #[test]
    fn test_garbage_cursor_is_rejected() {
        for bad in [
            "",
            "!!!",
            &cursor::encode(&["12", "abcd"]),
            &cursor::encode(&["x", "00"]),
            &cursor::encode(&["n", "1", "00"]),
        ] {
            assert!(
                matches!(
                    decode_cursor(bad, JobSort::Newest),
                    Err(StoreError::InvalidCursor)
                ),
                "{bad}"
            );
        }
    }
}
