//! `to_polars()` (feature `polars`): the Python client's `to_pandas()` columns and types.

#![cfg(feature = "polars")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Backend, Server, eventually};
use jobtrace_workflows::polars_core::prelude::{DataFrame, DataType, TimeUnit, TimeZone};
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

fn column_names(frame: &DataFrame) -> Vec<&str> {
    frame
        .get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_logs_become_dataframes_with_the_python_columns() {
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
    let frame = spans.to_polars().unwrap();
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
    assert_eq!(frame.height(), spans.len());
    assert_eq!(
        frame.column("start_time").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
    );
    assert_eq!(
        frame.column("duration").unwrap().dtype(),
        &DataType::Duration(TimeUnit::Nanoseconds)
    );
    let names = frame.column("name").unwrap().str().unwrap();
    let measure = (0..frame.height())
        .find(|&i| names.get(i) == Some("measure"))
        .unwrap();
    let attributes = frame.column("attributes").unwrap().str().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(attributes.get(measure).unwrap()).unwrap();
    assert_eq!(parsed["scene"], "S1");
    let parents = frame.column("parent_span_id").unwrap().str().unwrap();
    assert_eq!(parents.null_count(), 1, "only the job span is a root");

    let logs = eventually(Duration::from_secs(30), "the log line", || async {
        let logs = client
            .jobs()
            .query_logs(job.id, &LogQuery::default())
            .await
            .ok()?;
        (!logs.is_empty()).then_some(logs)
    })
    .await;
    let frame = logs.to_polars().unwrap();
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
    let bodies = frame.column("body").unwrap().str().unwrap();
    assert_eq!(bodies.get(0), Some("cloudy"));
    let severity = frame.column("severity_text").unwrap().str().unwrap();
    assert_eq!(severity.get(0), Some("WARN"));
}
