//! The job list on 1,000,000 jobs, SQLite and PostgreSQL: keyset pages and filters, against
//! OFFSET pagination (the baseline keyset replaces) in the same run.
//!
//! `cargo bench -p server --bench job_list` (env `BENCH_JOBS`, default 1000000;
//! `BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, where a scratch
//! database is created and dropped; `BENCH_BACKENDS=sqlite,postgres`).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;
use std::time::{Duration, Instant};

use app::model::{JobFilter, JobListQuery, JobSort};
use jobtrace::store::{self, SharedStore};
use sqlx::Connection;

const STATES: [i32; 4] = [2, 2, 2, 3]; // completed ×3, failed
const NAMES: [&str; 5] = [
    "process-scene",
    "ingest-tiles",
    "publish-report",
    "nightly-reindex",
    "train-model",
];

/// Rows straight into `jobs` (the list reads nothing else): one per 10 ms, varied names,
/// states, durations, services and error counts.
async fn seed(url: &str, jobs: usize) {
    let is_pg = url.starts_with("postgres");
    let base: i64 = 1_700_000_000_000_000_000;
    if is_pg {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        insert(&mut conn, jobs, base).await;
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        insert(&mut conn, jobs, base).await;
    }
}

macro_rules! insert_fn {
    ($name:ident, $conn:ty, $db:ty) => {
        async fn $name(conn: &mut $conn, jobs: usize, base: i64) {
            for chunk_start in (0..jobs).step_by(1000) {
                let mut tx = conn.begin().await.unwrap();
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO jobs (id, trace_id, kind, name, name_source, root_status, state, \
                     start_ns, end_ns, span_count, error_count, failed_tasks, services) ",
                );
                insert.push_values(chunk_start..(chunk_start + 1000).min(jobs), |mut row, i| {
                    let id = uuid::Uuid::from_u128(i as u128 + 1).as_bytes().to_vec();
                    let start = base + i as i64 * 10_000_000;
                    let state = STATES[i % STATES.len()];
                    row.push_bind(id.clone())
                        .push_bind(id)
                        .push_bind(0_i32)
                        .push_bind(format!("{}-{}", NAMES[i % NAMES.len()], i % 997))
                        .push_bind(1_i32)
                        .push_bind(Some(0_i32))
                        .push_bind(state)
                        .push_bind(start)
                        .push_bind(start + (i as i64 % 3600) * 1_000_000_000)
                        .push_bind(10_i64)
                        .push_bind(i64::from(state == 3))
                        .push_bind("{}")
                        .push_bind(format!("[\"svc-{}\"]", i % 20));
                });
                insert.build().execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }
        }
    };
}
insert_fn!(insert_pg, sqlx::PgConnection, sqlx::Postgres);
insert_fn!(insert_sqlite, sqlx::SqliteConnection, sqlx::Sqlite);

async fn insert<C: InsertJobs>(conn: &mut C, jobs: usize, base: i64) {
    conn.insert_jobs(jobs, base).await;
}

trait InsertJobs {
    async fn insert_jobs(&mut self, jobs: usize, base: i64);
}

impl InsertJobs for sqlx::PgConnection {
    async fn insert_jobs(&mut self, jobs: usize, base: i64) {
        insert_pg(self, jobs, base).await;
    }
}

impl InsertJobs for sqlx::SqliteConnection {
    async fn insert_jobs(&mut self, jobs: usize, base: i64) {
        insert_sqlite(self, jobs, base).await;
    }
}

/// Median of `runs` timings of `f`.
async fn time<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn filter(params: &[(&str, &str)]) -> JobFilter {
    JobFilter::from_params(params.iter().copied()).unwrap()
}

async fn page(
    store: &SharedStore,
    filter: &JobFilter,
    sort: JobSort,
    cursor: Option<String>,
) -> Option<String> {
    store
        .list_jobs(&JobListQuery {
            filter: filter.clone(),
            sort,
            cursor,
            limit: 50,
        })
        .await
        .unwrap()
        .next_cursor
}

async fn run(backend: &str, url: &str, jobs: usize, offset_sql: &str) {
    let store = store::open(url).await.unwrap();
    let started = Instant::now();
    seed(url, jobs).await;
    println!(
        "{backend}: seeded {jobs} jobs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // What a running server does within a second: PostgreSQL's state-count deltas folded.
    let started = Instant::now();
    let folded = store.fold_job_state_counts().await.unwrap();
    println!(
        "{backend}: folded {folded} state-count deltas in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    if url.starts_with("postgres") {
        // What autovacuum does after a bulk insert of this size: the planner's statistics and
        // the visibility map that lets index-only scans skip the heap.
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("VACUUM ANALYZE")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let all = JobFilter::default();
    // The 1,000th page (row 50,000) by cursor: walk there once, then time the jump.
    let mut cursor = None;
    for _ in 0..1000 {
        cursor = page(&store, &all, JobSort::Newest, cursor).await;
    }
    let deep_cursor = cursor.clone();
    let report = |what: &str, d: Duration| {
        println!("{backend}: {what:<60} {:>9.2} ms", d.as_secs_f64() * 1e3);
    };
    report(
        "first page, newest first",
        time(9, || page(&store, &all, JobSort::Newest, None).map_unit()).await,
    );
    report(
        "page 1000 by keyset cursor",
        time(9, || {
            page(&store, &all, JobSort::Newest, deep_cursor.clone()).map_unit()
        })
        .await,
    );
    report(
        "page 1000 by OFFSET 49950 (baseline)",
        offset_page(url, offset_sql, 9).await,
    );
    report(
        "first page, longest first",
        time(9, || page(&store, &all, JobSort::Longest, None).map_unit()).await,
    );
    let failed = filter(&[("state", "failed")]);
    report(
        "first page, state=FAILED",
        time(9, || {
            page(&store, &failed, JobSort::Newest, None).map_unit()
        })
        .await,
    );
    let name = filter(&[("name", "reindex-99")]);
    report(
        "first page, name contains \"reindex-99\"",
        time(5, || page(&store, &name, JobSort::Newest, None).map_unit()).await,
    );
    let service = filter(&[("service", "svc-7"), ("errors", "yes")]);
    report(
        "first page, service=svc-7 and errors",
        time(5, || {
            page(&store, &service, JobSort::Newest, None).map_unit()
        })
        .await,
    );
    let one_service = filter(&[("service", "svc-7")]);
    report(
        "first page, service=svc-7",
        time(5, || {
            page(&store, &one_service, JobSort::Newest, None).map_unit()
        })
        .await,
    );
    report(
        "first page, service=svc-7, longest first",
        time(5, || {
            page(&store, &one_service, JobSort::Longest, None).map_unit()
        })
        .await,
    );
    let service_window = filter(&[
        ("service", "svc-7"),
        ("from", "1700000000000000000"),
        ("to", "1700000600000000000"),
    ]);
    report(
        "first page, service=svc-7 in a 10-minute window",
        time(5, || {
            page(&store, &service_window, JobSort::Newest, None).map_unit()
        })
        .await,
    );
    let range = filter(&[
        ("from", "1700000000000000000"),
        ("to", "1700000600000000000"),
    ]);
    report(
        "first page, a 10-minute start window",
        time(9, || page(&store, &range, JobSort::Newest, None).map_unit()).await,
    );
    // The time windows the page offers (`range=1h|24h` resolve to `from` only, the newest job
    // starts 10,000 s after the oldest; the page's `now` falls anywhere in a minute: 17.3 s
    // past one here, the hour and day before the newest job would start on one) and the errors
    // filter, alone and with a window.
    let errors = filter(&[("errors", "yes")]);
    let range_errors = filter(&[
        ("from", "1700000000000000000"),
        ("to", "1700000600000000000"),
        ("errors", "yes"),
    ]);
    let last_hour = filter(&[("from", "1700006417300000000")]);
    let last_day = filter(&[("from", "1699923617300000000")]);
    let long = filter(&[("min_duration", "3000")]);
    report(
        "first page, longer than 50 minutes",
        time(5, || page(&store, &long, JobSort::Newest, None).map_unit()).await,
    );
    // The chips count every state of the filtered set, on the first page of each filter.
    for (what, chips) in [
        ("state counts (chips), no filter", &all),
        ("state counts (chips), name contains", &name),
        ("state counts (chips), service=svc-7", &one_service),
        ("state counts (chips), service=svc-7 and errors", &service),
        (
            "state counts (chips), service=svc-7 in a 10-minute window",
            &service_window,
        ),
        ("state counts (chips), a 10-minute start window", &range),
        ("state counts (chips), errors", &errors),
        (
            "state counts (chips), a 10-minute window and errors",
            &range_errors,
        ),
        (
            "state counts (chips), the last hour (358,270 jobs)",
            &last_hour,
        ),
        (
            "state counts (chips), the last 24 hours (every job)",
            &last_day,
        ),
        ("state counts (chips), longer than 50 minutes (1/6)", &long),
    ] {
        report(
            what,
            time(5, || async {
                store.job_state_counts(chips).await.unwrap();
            })
            .await,
        );
    }
}

/// Median time of the same page by OFFSET on one open connection.
async fn offset_page(url: &str, sql: &str, runs: usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for _ in 0..runs {
            let started = Instant::now();
            sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
            times.push(started.elapsed());
        }
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        for _ in 0..runs {
            let started = Instant::now();
            sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
            times.push(started.elapsed());
        }
    }
    times.sort();
    times[times.len() / 2]
}

trait MapUnit {
    fn map_unit(self) -> impl std::future::Future<Output = ()>;
}

impl<F: std::future::Future> MapUnit for F {
    async fn map_unit(self) {
        self.await;
    }
}

#[tokio::main]
async fn main() {
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    let offset_sql = "SELECT id, name, state, start_ns, end_ns FROM jobs \
                      ORDER BY start_ns DESC, id DESC LIMIT 50 OFFSET 49950";
    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("jobs.db").display());
        run("sqlite", &url, jobs, offset_sql).await;
    }
    if backends.contains("postgres") {
        let database = support::PgDatabase::create().await;
        run("postgres", &database.url, jobs, offset_sql).await;
        database.drop_now().await;
    }
}
