//! Demo jobs for `serve --demo`: built as OTLP requests and stored through the ingest path.

mod trace;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use trace::{DemoTrace, MS, SpanSpec, runner, text};

use crate::ingest::{logs_from_request, spans_from_request};
use crate::store::{SharedStore, StoreError, TraceId};

const INFO: (i32, &str) = (9, "INFO");
const WARN: (i32, &str) = (13, "WARN");
const ERROR: (i32, &str) = (17, "ERROR");

fn task_attributes(name: &str) -> Vec<KeyValue> {
    vec![
        text("task_id", &uuid::Uuid::now_v7().to_string()),
        text("identifier.name", name),
        text("identifier.version", "v0.0"),
    ]
}

/// The Tracing page's example: one task with two custom spans and their logs.
fn process_scene(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(origin_ns, vec![runner("tilebox-python", "runner-7f3a")]);
    let job = trace.span(SpanSpec {
        runner: 0,
        parent: None,
        name: "job/process-scene",
        start_ms: 0,
        end_ms: 3_400,
        attributes: vec![],
        error: None,
    });
    let task = trace.span(SpanSpec {
        runner: 0,
        parent: Some(job),
        name: "task/ProcessScene",
        start_ms: 120,
        end_ms: 3_300,
        attributes: task_attributes("ProcessScene"),
        error: None,
    });
    let download = trace.span(SpanSpec {
        runner: 0,
        parent: Some(task),
        name: "download-scene",
        start_ms: 140,
        end_ms: 1_900,
        attributes: vec![text("scene_id", "S2A_001")],
        error: None,
    });
    trace.log(0, download, 150, INFO, "downloading scene S2A_001 (812 MB)");
    trace.log(0, download, 1_880, INFO, "download complete");
    let compute = trace.span(SpanSpec {
        runner: 0,
        parent: Some(task),
        name: "compute-index",
        start_ms: 1_950,
        end_ms: 3_250,
        attributes: vec![],
        error: None,
    });
    trace.log(
        0,
        compute,
        3_240,
        INFO,
        "NDVI computed for 10980×10980 pixels",
    );
    trace
}

/// A fan-out over two runners with one failed attempt that a retry fixed.
fn ingest_tiles(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(
        origin_ns,
        vec![
            runner("tilebox-python", "runner-a"),
            runner("tilebox-python", "runner-b"),
        ],
    );
    let job = trace.span(SpanSpec {
        runner: 0,
        parent: None,
        name: "job/ingest-tiles",
        start_ms: 0,
        end_ms: 9_000,
        attributes: vec![],
        error: None,
    });
    let root = trace.span(SpanSpec {
        runner: 0,
        parent: Some(job),
        name: "task/IngestTiles",
        start_ms: 50,
        end_ms: 400,
        attributes: task_attributes("IngestTiles"),
        error: None,
    });
    trace.log(0, root, 390, INFO, "submitted 8 ProcessTile subtasks");
    for tile in 0..8u64 {
        let runner_index = (tile % 2) as usize;
        let start = 500 + (tile / 2) * 1_900;
        let attributes = task_attributes("ProcessTile");
        let name = format!("tile-{tile:02}");
        if tile == 5 {
            let failed = trace.span(SpanSpec {
                runner: runner_index,
                parent: Some(job),
                name: "task/ProcessTile",
                start_ms: start,
                end_ms: start + 700,
                attributes: attributes.clone(),
                error: Some(("ConnectionError", "object store timed out")),
            });
            trace.log(
                runner_index,
                failed,
                start + 690,
                ERROR,
                &format!("{name}: upload failed, will retry"),
            );
            let retry = trace.span(SpanSpec {
                runner: 1 - runner_index,
                parent: Some(job),
                name: "task/ProcessTile",
                start_ms: start + 900,
                end_ms: start + 2_300,
                attributes,
                error: None,
            });
            trace.log(
                1 - runner_index,
                retry,
                start + 2_200,
                INFO,
                &format!("{name}: stored"),
            );
        } else {
            let span = trace.span(SpanSpec {
                runner: runner_index,
                parent: Some(job),
                name: "task/ProcessTile",
                start_ms: start,
                end_ms: start + 1_700,
                attributes,
                error: None,
            });
            if tile == 2 {
                trace.log(
                    runner_index,
                    span,
                    start + 400,
                    WARN,
                    &format!("{name}: 3% cloud cover over threshold"),
                );
            }
            trace.log(
                runner_index,
                span,
                start + 1_650,
                INFO,
                &format!("{name}: stored"),
            );
        }
    }
    trace
}

/// A job whose last task failed without retries left.
fn publish_report(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(origin_ns, vec![runner("reports", "runner-c")]);
    let job = trace.span(SpanSpec {
        runner: 0,
        parent: None,
        name: "job/publish-report",
        start_ms: 0,
        end_ms: 2_100,
        attributes: vec![],
        error: Some(("PermissionError", "bucket reports/ is read-only")),
    });
    let task = trace.span(SpanSpec {
        runner: 0,
        parent: Some(job),
        name: "task/PublishReport",
        start_ms: 80,
        end_ms: 2_000,
        attributes: task_attributes("PublishReport"),
        error: Some(("PermissionError", "bucket reports/ is read-only")),
    });
    let publish = trace.span(SpanSpec {
        runner: 0,
        parent: Some(task),
        name: "publish-output",
        start_ms: 900,
        end_ms: 1_950,
        attributes: vec![text("bucket", "reports/")],
        error: Some(("PermissionError", "bucket reports/ is read-only")),
    });
    trace.log(
        0,
        publish,
        1_940,
        ERROR,
        "write to reports/2026-11.pdf denied",
    );
    trace
}

/// The live job's trace and job span ids: the same on every start, so a server stopped while
/// the job plays finishes it on its next `--demo` start instead of leaving it running forever.
const LIVE_TRACE: [u8; 16] = *b"jobtrace-demo-lv";
const LIVE_JOB_SPAN: [u8; 8] = *b"reindex!";
/// The live job's shards: two runners take one each every [`SHARD_MS`].
const SHARDS: u64 = 12;
const SHARD_MS: u64 = 8_000;
/// When the catalog scan ends and the shards start, ms after the job's start.
const SCAN_MS: u64 = 1_500;

fn live_runners() -> Vec<Resource> {
    vec![runner("indexer", "runner-d"), runner("indexer", "runner-e")]
}

/// A job that runs while you look: its catalog scan is done when the demo loads
/// ([`store_live_scan`]), then its shards finish one by one on two runners over about 50 s
/// (each span is sent when it ends, as a runner's exporter does), then the job span
/// ([`play_live_shards`]). The job page shows it live.
async fn store_live_scan(store: &SharedStore, origin_ns: u64) -> Result<(), StoreError> {
    let mut scan = DemoTrace::with_id(LIVE_TRACE, origin_ns, live_runners());
    let task = scan.span(SpanSpec {
        runner: 0,
        parent: Some(LIVE_JOB_SPAN),
        name: "task/ScanCatalog",
        start_ms: 100,
        end_ms: SCAN_MS - 100,
        attributes: task_attributes("ScanCatalog"),
        error: None,
    });
    scan.log(
        0,
        task,
        1_000,
        INFO,
        &format!("catalog lists {SHARDS} shards"),
    );
    store_trace(store, scan).await
}

/// Plays the shards, two every `pace_ms` (the demo: [`SHARD_MS`]).
async fn play_live_shards(
    store: SharedStore,
    origin_ns: u64,
    pace_ms: u64,
) -> Result<(), StoreError> {
    let mut last_end_ms = SCAN_MS;
    for shard in 0..SHARDS {
        let start_ms = SCAN_MS + (shard / 2) * pace_ms + (shard % 2) * pace_ms / 10;
        let end_ms = start_ms + pace_ms * (85 - 10 * (shard % 3)) / 100;
        wait_until(origin_ns + end_ms * MS).await;
        let mut done = DemoTrace::with_id(LIVE_TRACE, origin_ns, live_runners());
        let mut attributes = task_attributes("ReindexShard");
        attributes.push(text("shard", &format!("shard-{shard:02}")));
        let span = done.span(SpanSpec {
            runner: (shard % 2) as usize,
            parent: Some(LIVE_JOB_SPAN),
            name: "task/ReindexShard",
            start_ms,
            end_ms,
            attributes,
            error: None,
        });
        done.log(
            (shard % 2) as usize,
            span,
            end_ms - 200,
            INFO,
            &format!(
                "shard-{shard:02}: {} documents reindexed",
                40_000 + shard * 1_337
            ),
        );
        store_trace(&store, done).await?;
        last_end_ms = last_end_ms.max(end_ms);
    }
    wait_until(origin_ns + (last_end_ms + 200) * MS).await;
    finish_live_job(&store, origin_ns, origin_ns + (last_end_ms + 200) * MS).await
}

/// Sends the live job's job span (`start_ns`..`end_ns`): the job is done.
async fn finish_live_job(
    store: &SharedStore,
    start_ns: u64,
    end_ns: u64,
) -> Result<(), StoreError> {
    let mut job = DemoTrace::with_id(LIVE_TRACE, start_ns, live_runners());
    job.span_with_id(
        SpanSpec {
            runner: 0,
            parent: None,
            name: "job/nightly-reindex",
            start_ms: 0,
            end_ms: end_ns.saturating_sub(start_ns) / MS,
            attributes: vec![],
            error: None,
        },
        LIVE_JOB_SPAN,
    );
    store_trace(store, job).await
}

/// After a restart: the live job, if a stopped server left it unfinished, ends where its last
/// span did (a span the store has already is not stored twice).
async fn finish_interrupted(store: &SharedStore) -> Result<bool, StoreError> {
    let spans = store.trace_outline(TraceId(LIVE_TRACE)).await?;
    let job_span = hex::encode(LIVE_JOB_SPAN);
    if spans.is_empty() || spans.iter().any(|s| s.span_id == job_span) {
        return Ok(false);
    }
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or_default();
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or_default();
    finish_live_job(
        store,
        start.max(0) as u64,
        end.max(start).max(0) as u64 + 100 * MS,
    )
    .await?;
    Ok(true)
}

async fn wait_until(at_ns: u64) {
    let now = now_ns();
    if at_ns > now {
        tokio::time::sleep(std::time::Duration::from_nanos(at_ns - now)).await;
    }
}

/// [`crate::now_ns`] as the OTLP timestamps the demo builds take it.
fn now_ns() -> u64 {
    u64::try_from(crate::now_ns()).unwrap_or_default()
}

async fn store_trace(store: &SharedStore, trace: DemoTrace) -> Result<(), StoreError> {
    let (spans, logs) = trace.requests();
    store.write_spans(spans_from_request(&spans).batch).await?;
    store.write_logs(logs_from_request(&logs).batch).await?;
    Ok(())
}

/// Stores the demo jobs if the store holds no job yet and starts the live one (its spans arrive
/// over the next minute); returns how many were stored. With jobs in the store, only finishes a
/// live job an earlier run left unfinished.
pub async fn load_if_empty(store: &SharedStore) -> Result<usize, StoreError> {
    load_if_empty_paced(store, SHARD_MS).await
}

/// [`load_if_empty`] with the live job's shards `pace_ms` apart (tests play it fast).
pub async fn load_if_empty_paced(store: &SharedStore, pace_ms: u64) -> Result<usize, StoreError> {
    if store.stats().await?.jobs > 0 {
        if finish_interrupted(store).await? {
            tracing::info!("finished the demo's live job an earlier run left running");
        }
        return Ok(0);
    }
    let now_ns = now_ns();
    let minutes_ago = |m: u64| now_ns - m * 60_000 * MS;
    let traces = [
        publish_report(minutes_ago(95)),
        ingest_tiles(minutes_ago(42)),
        process_scene(minutes_ago(7)),
    ];
    let traces_len = traces.len();
    for trace in traces {
        store_trace(store, trace).await?;
    }
    // Its scan is stored before this returns, so the list shows four jobs from the start.
    let origin_ns = now_ns - SCAN_MS * MS;
    store_live_scan(store, origin_ns).await?;
    let live = store.clone();
    tokio::spawn(async move {
        if let Err(error) = play_live_shards(live, origin_ns, pace_ms).await {
            tracing::warn!(%error, "the demo's live job stopped");
        }
    });
    Ok(traces_len + 1)
}
