//! Task claiming: R runners calling `NextTask` in a loop (report the last task computed, claim
//! the next) on a job of N no-op tasks, in process against the gRPC service (no network: the
//! ceiling of what the store and the handler allow), on SQLite and PostgreSQL.
//!
//! `cargo bench -p server --bench claims` (env `BENCH_TASKS`, default 10000; `BENCH_RUNNERS`,
//! default 8; `BENCH_BACKENDS`, default `sqlite,postgres`; `BENCH_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Prints tasks/s and the claim latency
//! percentiles per backend; the baseline is the same file run by the build it is compared with.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use jobtrace::grpc::WorkflowApi;
use jobtrace::grpc::proto::workflows::v1 as wf;
use jobtrace::grpc::proto::workflows::v1::task_service_server::TaskService;
use jobtrace::store::workflow::{NewJob, TaskSpec};
use jobtrace::store::{SharedStore, TraceId};
use sqlx::Connection;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn noop(i: usize) -> TaskSpec {
    TaskSpec {
        identifier_name: "Noop".to_owned(),
        identifier_version: "v1.0".to_owned(),
        display: format!("Noop {i}"),
        input: i.to_string().into_bytes(),
        cluster_slug: String::new(),
        max_retries: 0,
        optional: false,
        depends_on: Vec::new(),
    }
}

/// What a runner that can run `Noop` and two other task types asks for (the Python client
/// sends every task type the runner registered).
fn next_task_to_run() -> wf::NextTaskToRun {
    let identifier = |name: &str| wf::TaskIdentifier {
        name: name.to_owned(),
        version: "v1.0".to_owned(),
    };
    wf::NextTaskToRun {
        cluster_slug: "default".to_owned(),
        identifiers: vec![identifier("Noop"), identifier("Other"), identifier("Third")],
    }
}

/// Claims and completes tasks until none is left; the latency of every call.
async fn runner(api: WorkflowApi, name: String) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let mut computed: Option<(wf::ComputedTask, String)> = None;
    loop {
        let mut request = tonic::Request::new(wf::NextTaskRequest {
            computed_task: computed.as_ref().map(|(task, _)| task.clone()),
            next_task_to_run: Some(next_task_to_run()),
        });
        request
            .metadata_mut()
            .insert("x-jobtrace-runner", name.parse().unwrap());
        if let Some((_, attempt)) = &computed {
            request
                .metadata_mut()
                .insert("x-jobtrace-attempt", attempt.parse().unwrap());
        }
        let started = Instant::now();
        let response = api.next_task(request).await.unwrap();
        latencies.push(started.elapsed());
        let attempt = response
            .metadata()
            .get("x-jobtrace-attempt")
            .map(|v| v.to_str().unwrap().to_owned());
        let Some(task) = response.into_inner().next_task else {
            return latencies;
        };
        computed = Some((
            wf::ComputedTask {
                id: task.id,
                ..Default::default()
            },
            attempt.unwrap(),
        ));
    }
}

async fn run(store: SharedStore, tasks: usize, runners: usize) -> (Duration, Vec<Duration>) {
    let trace = *uuid::Uuid::new_v4().as_bytes();
    let job = NewJob {
        name: "claims".to_owned(),
        trace_parent: format!("00-{}-0102030405060708-01", hex::encode(trace)),
        trace_id: TraceId(trace),
        tasks: (0..tasks).map(noop).collect(),
    };
    let submitted = store.submit_job(job, jobtrace::now_ns()).await.unwrap();
    let api = WorkflowApi {
        store: store.clone(),
        lease_ns: 60_000_000_000,
        idle_ns: 1_000_000_000,
        draining: Arc::default(),
    };
    let started = Instant::now();
    let loops: Vec<_> = (0..runners)
        .map(|r| tokio::spawn(runner(api.clone(), format!("bench-runner-{r}"))))
        .collect();
    let mut latencies = Vec::new();
    for handle in loops {
        latencies.extend(handle.await.unwrap());
    }
    let took = started.elapsed();
    let job = store.workflow_job(submitted.id).await.unwrap().unwrap();
    assert_eq!(
        job.counts.computed, tasks as i64,
        "every task computed once"
    );
    latencies.sort();
    (took, latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

async fn store_for(backend: &str, dir: &std::path::Path) -> (SharedStore, Option<String>) {
    match backend {
        "sqlite" => {
            let url = format!("sqlite:{}", dir.join("claims.db").display());
            (jobtrace::store::open(&url).await.unwrap(), None)
        }
        _ => {
            let admin = env(
                "BENCH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            );
            let name = format!("jobtrace_claims_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            let store = jobtrace::store::open(&format!("{base}/{name}"))
                .await
                .unwrap();
            (store, Some(name))
        }
    }
}

async fn drop_database(name: &str) {
    let admin = env(
        "BENCH_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

fn main() {
    let tasks: usize = env("BENCH_TASKS", "10000").parse().unwrap();
    let runners: usize = env("BENCH_RUNNERS", "8").parse().unwrap();
    let backends = env("BENCH_BACKENDS", "sqlite,postgres");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let (store, database) = runtime.block_on(store_for(backend, dir.path()));
        let (took, latencies) = runtime.block_on(run(store.clone(), tasks, runners));
        drop(store);
        if let Some(name) = database {
            runtime.block_on(drop_database(&name));
        }
        println!(
            "{backend}: {tasks} tasks by {runners} runners in {:.2} s = {:.0} tasks/s; \
             NextTask p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            took.as_secs_f64(),
            tasks as f64 / took.as_secs_f64(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
        );
    }
}
