//! `to_arrow()` (feature `arrow`): the Python client's `to_pandas()` columns and types.

#![cfg(feature = "arrow")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Backend, Server, eventually};
use jobtrace_workflows::arrow_array::{Array, RecordBatch, StringArray};
use jobtrace_workflows::arrow_schema::{DataType, TimeUnit};
use jobtrace_workflows::{Client, ExecutionContext, LogQuery, Task, TaskError, TelemetryConfig};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Measure {
    scene: String,
}

impl Task for Measure {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        let span = ctx.tracer().span("measure");
        span.set_attribute("scene", self.scene.clone());
        ctx.logger().warn("cloudy");
        Ok(())
    }
}

fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_logs_become_arrow_batches_with_the_python_columns() {
    let server = Server::start(Backend::Sqlite).await;
    let config = TelemetryConfig::default()
        .console(false)
        .export_interval(Duration::from_millis(200));
    let client = Client::with_telemetry(&server.url, "", config).unwrap();
    let job = client
        .jobs()
        .submit(
            "frames",
            &Measure {
                scene: "S1".to_owned(),
            },
            "",
            0,
        )
        .await
        .unwrap();
    client
        .runner("")
        .register::<Measure>()
        .run_all()
        .await
        .unwrap();
    let spans = eventually(Duration::from_secs(30), "3 spans", || async {
        let spans = client.jobs().query_spans(job.id, None).await.ok()?;
        (spans.len() >= 3).then_some(spans)
    })
    .await;
    let frame = spans.to_arrow().unwrap();
    let columns = column_names(&frame);
    assert_eq!(
        columns,
        [
            "start_time",
            "end_time",
            "trace_id",
            "span_id",
            "parent_span_id",
            "name",
            "status_code",
            "status_message",
            "attributes",
            "runner_attributes",
            "events",
            "duration"
        ]
    );
    assert_eq!(frame.num_rows(), spans.len());
    assert_eq!(
        frame.column_by_name("start_time").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    assert_eq!(
        frame.column_by_name("duration").unwrap().data_type(),
        &DataType::Duration(TimeUnit::Nanosecond)
    );
    let names = text(&frame, "name");
    let measure = (0..frame.num_rows())
        .find(|&i| names.value(i) == "measure")
        .unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(text(&frame, "attributes").value(measure)).unwrap();
    assert_eq!(parsed["scene"], "S1");
    assert_eq!(
        text(&frame, "parent_span_id").null_count(),
        1,
        "only the job span is a root"
    );

    let logs = eventually(Duration::from_secs(30), "the log line", || async {
        let logs = client
            .jobs()
            .query_logs(job.id, &LogQuery::default())
            .await
            .ok()?;
        (!logs.is_empty()).then_some(logs)
    })
    .await;
    let frame = logs.to_arrow().unwrap();
    let columns = column_names(&frame);
    assert_eq!(
        columns,
        [
            "time",
            "severity_number",
            "severity_text",
            "body",
            "trace_id",
            "span_id",
            "attributes",
            "runner_attributes"
        ]
    );
    assert_eq!(text(&frame, "body").value(0), "cloudy");
    assert_eq!(text(&frame, "severity_text").value(0), "WARN");
}
