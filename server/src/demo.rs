//! Demo jobs for `serve --demo`: built as OTLP requests and stored through the ingest path.

mod trace;

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use trace::{DemoTrace, MS, SpanSpec, random_bytes, runner, text};

use crate::ingest::{logs_from_request, spans_from_request};
use crate::store::{SharedStore, StoreError};

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

/// A job still running: its job span has not been exported yet.
fn nightly_reindex(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(origin_ns, vec![runner("indexer", "runner-d")]);
    let absent_job_span = random_bytes();
    for (i, name) in ["task/ScanCatalog", "task/Reindex"].into_iter().enumerate() {
        let start = 100 + i as u64 * 1_500;
        let span = trace.span(SpanSpec {
            runner: 0,
            parent: Some(absent_job_span),
            name,
            start_ms: start,
            end_ms: start + 1_400,
            attributes: task_attributes(name.trim_start_matches("task/")),
            error: None,
        });
        trace.log(
            0,
            span,
            start + 1_000,
            INFO,
            &format!("{name} finished a batch"),
        );
    }
    trace
}

/// Stores the demo jobs if the store holds no job yet; returns how many were stored.
pub async fn load_if_empty(store: &SharedStore) -> Result<usize, StoreError> {
    if store.stats().await?.jobs > 0 {
        return Ok(0);
    }
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let minutes_ago = |m: u64| now_ns - m * 60_000 * MS;
    let traces = [
        publish_report(minutes_ago(95)),
        ingest_tiles(minutes_ago(42)),
        process_scene(minutes_ago(7)),
        nightly_reindex(minutes_ago(1)),
    ];
    let count = traces.len();
    for trace in traces {
        let (spans, logs) = trace.requests();
        store.write_spans(spans_from_request(&spans).batch).await?;
        store.write_logs(logs_from_request(&logs).batch).await?;
    }
    Ok(count)
}
