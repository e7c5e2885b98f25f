//! Task analytics on 1,000,000 task executions, SQLite and PostgreSQL: the background roll-up's
//! rate, then the `/tasks` page's and one `/tasks/<identifier>` page's figures from the
//! roll-up, against the baseline in the same run: the same figures computed straight from the
//! attempts (read every ended attempt of the window, exact percentiles by sorting).
//!
//! The page reads each version's histogram buckets summed over the window (a `GROUP BY`) and the
//! roll-up's per-day summaries; its first version read every histogram row of the window and
//! merged them in memory, measured here too.
//!
//! `cargo bench -p server --bench task_stats` (env `BENCH_EXECUTIONS`, default 1000000;
//! `BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, where a scratch
//! database is created and dropped; `BENCH_BACKENDS=sqlite,postgres`).
//!
//! The workload: 20 task identifiers, executions spread evenly over the last 30 days, version
//! v1.0 for the first 20 days and v1.1 after (task-3's v1.1 twice as slow), durations and queue
//! waits spread over two orders of magnitude, 3 % failed; 100 tasks per job.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use app::model::{DAY_NS, task_analytics, task_detail, task_overview, window_start};
use jobtrace::store::{self, SharedStore};
use sqlx::Connection;

const IDENTIFIERS: u64 = 20;
const DAYS: u32 = 30;
const MS: i64 = 1_000_000;

/// A repeatable pseudo-random number in [0, 1) for `i` and `salt` (splitmix64).
fn unit(i: u64, salt: u64) -> f64 {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(salt);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / u64::MAX as f64
}

/// Execution `i` of `n`: (task id, job id, name, version, submitted, started, stopped, outcome).
fn execution(
    i: u64,
    n: u64,
    first_ns: i64,
) -> (Vec<u8>, Vec<u8>, String, String, i64, i64, i64, i32) {
    let span = i64::from(DAYS) * DAY_NS - 60 * 60 * 1_000_000_000;
    let stopped = first_ns + (span as f64 * i as f64 / n as f64) as i64;
    let kind = i % IDENTIFIERS;
    let newer = stopped >= first_ns + 20 * DAY_NS;
    let slower = if newer && kind == 3 { 2.0 } else { 1.0 };
    let duration =
        ((kind + 1) as f64 * 20.0 * MS as f64 * (unit(i, 1) * 4.6).exp() * slower) as i64;
    let wait = (50.0 * MS as f64 * (unit(i, 2) * 4.6).exp()) as i64;
    let started = stopped - duration;
    let outcome = if unit(i, 3) < 0.03 { 2 } else { 1 };
    (
        uuid::Uuid::from_u128(u128::from(i) + 1).as_bytes().to_vec(),
        uuid::Uuid::from_u128(u128::from(i / 100) + 1)
            .as_bytes()
            .to_vec(),
        format!("task-{kind}"),
        (if newer { "v1.1" } else { "v1.0" }).to_owned(),
        started - wait,
        started,
        stopped,
        outcome,
    )
}

macro_rules! seed_fn {
    ($name:ident, $conn:ty, $db:ty) => {
        async fn $name(conn: &mut $conn, n: u64, first_ns: i64) {
            const CHUNK: u64 = 1000;
            for chunk in (0..n).step_by(CHUNK as usize) {
                let rows: Vec<_> = (chunk..(chunk + CHUNK).min(n))
                    .map(|i| execution(i, n, first_ns))
                    .collect();
                let mut tx = conn.begin().await.unwrap();
                let mut tasks = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO tasks (id, job_id, cluster_slug, identifier_name, \
                     identifier_version, display, input, state, optional, max_retries, \
                     retry_count, pending_deps, submitted_ns, started_ns, stopped_ns, attempts, \
                     completed_ns) ",
                );
                tasks.push_values(&rows, |mut row, r| {
                    row.push_bind(r.0.clone())
                        .push_bind(r.1.clone())
                        .push_bind("default")
                        .push_bind(r.2.clone())
                        .push_bind(r.3.clone())
                        .push_bind(r.2.clone())
                        .push_bind(Vec::<u8>::new())
                        .push_bind(if r.7 == 1 { 3_i32 } else { 4 })
                        .push_bind(0_i32)
                        .push_bind(0_i32)
                        .push_bind(0_i32)
                        .push_bind(0_i32)
                        .push_bind(r.4)
                        .push_bind(r.5)
                        .push_bind(r.6)
                        .push_bind(1_i64)
                        .push_bind((r.7 == 1).then_some(r.6));
                });
                tasks.build().execute(&mut *tx).await.unwrap();
                let mut attempts = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO task_attempts (task_id, attempt, runner, started_ns, \
                     stopped_ns, outcome, error) ",
                );
                attempts.push_values(&rows, |mut row, r| {
                    row.push_bind(r.0.clone())
                        .push_bind(1_i64)
                        .push_bind("bench-runner")
                        .push_bind(r.5)
                        .push_bind(r.6)
                        .push_bind(r.7)
                        .push_bind("");
                });
                attempts.build().execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }
        }
    };
}
seed_fn!(seed_pg, sqlx::PgConnection, sqlx::Postgres);
seed_fn!(seed_sqlite, sqlx::SqliteConnection, sqlx::Sqlite);

/// The baseline: every ended attempt of the window (of one identifier, or all) read straight
/// from the attempts, grouped in memory, exact p50/p95/p99 by sorting, per identifier and
/// version and per identifier and day — the figures the roll-up's pages show.
macro_rules! baseline_fn {
    ($name:ident, $conn:ty) => {
        async fn $name(conn: &mut $conn, first_ns: i64, only: Option<&str>) -> usize {
            let rows: Vec<(String, String, i64, i64, i32)> = sqlx::query_as(
                "SELECT t.identifier_name, t.identifier_version, a.started_ns, a.stopped_ns, \
                 a.outcome FROM task_attempts a JOIN tasks t ON t.id = a.task_id \
                 WHERE a.stopped_ns >= $1 AND a.outcome IN (1, 2, 3) \
                 AND ($2 IS NULL OR t.identifier_name = $3)",
            )
            .bind(first_ns)
            .bind(only)
            .bind(only)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            exact_figures(rows)
        }
    };
}
baseline_fn!(baseline_pg, sqlx::PgConnection);
baseline_fn!(baseline_sqlite, sqlx::SqliteConnection);

fn exact_figures(rows: Vec<(String, String, i64, i64, i32)>) -> usize {
    let mut groups: HashMap<(String, String), Vec<i64>> = HashMap::new();
    let mut days: HashMap<(String, i64), Vec<i64>> = HashMap::new();
    for (name, version, started, stopped, _) in rows {
        let duration = stopped - started;
        days.entry((name.clone(), stopped.div_euclid(DAY_NS)))
            .or_default()
            .push(duration);
        groups.entry((name, version)).or_default().push(duration);
    }
    let mut figures = 0;
    for durations in groups.values_mut().chain(days.values_mut()) {
        durations.sort_unstable();
        for q in [0.5, 0.95, 0.99] {
            let rank = ((q * durations.len() as f64).ceil() as usize).clamp(1, durations.len());
            figures += usize::from(durations[rank - 1] > 0);
        }
    }
    figures
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

/// Median of `runs` baseline computations on one open connection.
async fn baseline(url: &str, first: i64, only: Option<&str>, runs: usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for _ in 0..runs {
            let started = Instant::now();
            baseline_pg(&mut conn, first, only).await;
            times.push(started.elapsed());
        }
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        for _ in 0..runs {
            let started = Instant::now();
            baseline_sqlite(&mut conn, first, only).await;
            times.push(started.elapsed());
        }
    }
    times.sort();
    times[times.len() / 2]
}

async fn page(store: &SharedStore, first: i64) {
    let (totals, daily) = store.task_overview_rows(first).await.unwrap();
    let analytics = task_overview(&totals, &daily, first, DAYS);
    assert_eq!(analytics.tasks.len(), IDENTIFIERS as usize);
}

/// The page as its first version (429a1c0) computed it: every histogram row of the window,
/// merged in memory.
async fn page_from_histograms(store: &SharedStore, first: i64) {
    let rows = store.task_stat_rows(first, None).await.unwrap();
    let analytics = task_analytics(&rows, first, DAYS);
    assert_eq!(analytics.tasks.len(), IDENTIFIERS as usize);
}

async fn detail(store: &SharedStore, first: i64) {
    let rows = store.task_stat_rows(first, Some("task-3")).await.unwrap();
    let slow = store.slow_runs("task-3", first, 10).await.unwrap();
    let detail = task_detail("task-3", &rows, slow, first, DAYS).unwrap();
    assert!(
        detail.task.slowdown.is_some(),
        "task-3's v1.1 is twice as slow"
    );
}

async fn run(backend: &str, url: &str, n: u64) {
    let store = store::open(url).await.unwrap();
    let first = window_start(jobtrace::now_ns(), DAYS);
    let started = Instant::now();
    if url.starts_with("postgres") {
        seed_pg(
            &mut sqlx::PgConnection::connect(url).await.unwrap(),
            n,
            first,
        )
        .await;
    } else {
        seed_sqlite(
            &mut sqlx::SqliteConnection::connect(url).await.unwrap(),
            n,
            first,
        )
        .await;
    }
    println!(
        "{backend}: seeded {n} executions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let taken = jobtrace::task_stats::roll_up(&store).await.unwrap();
    let took = started.elapsed().as_secs_f64();
    assert_eq!(taken as u64, n);
    // `roll_up` rests as long as each batch took (to leave the writer to ingest and claims):
    // half the wall time is rest.
    println!(
        "{backend}: roll-up of {n} executions {took:>8.1} s ({:.0} executions/s of wall time, \
         half of it resting)",
        n as f64 / took
    );
    let report = |what: &str, d: Duration| {
        println!("{backend}: {what:<58} {:>9.2} ms", d.as_secs_f64() * 1e3);
    };
    report(
        "/tasks, 30 days, 20 identifiers (roll-up)",
        time(9, || page(&store, first)).await,
    );
    report(
        "/tasks, 30 days, from every histogram row (429a1c0)",
        time(5, || page_from_histograms(&store, first)).await,
    );
    report(
        "/tasks/task-3, 30 days (roll-up)",
        time(9, || detail(&store, first)).await,
    );
    let all = baseline(url, first, None, 3).await;
    let one = baseline(url, first, Some("task-3"), 3).await;
    report("/tasks, 30 days, from the attempts (baseline)", all);
    report("/tasks/task-3, 30 days, from the attempts (baseline)", one);
    let rows = store.task_stat_rows(first, None).await.unwrap().len();
    println!("{backend}: {rows} histogram rows for {n} executions");
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("BENCH_EXECUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("tasks.db").display());
        run("sqlite", &url, n).await;
    }
    if backends.contains("postgres") {
        let database = support::PgDatabase::create().await;
        run("postgres", &database.url, n).await;
        database.drop_now().await;
    }
}
