//! The Tilebox "Tracing" page's example in Rust (`examples/python/process_scene.py` is the
//! Python original):
//!
//!     cargo run --release --example process_scene -- --url http://127.0.0.1:3000
//!
//! Submits a `ProcessScene` job, runs it with an in-process runner until the queue is empty,
//! queries the job's spans back, prints them, and prints the job id last.

use std::time::Duration;

use clap::Parser;
use jobtrace_workflows::{Client, ExecutionContext, Task, TaskError, TelemetryConfig};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct ProcessScene {
    scene_id: String,
}

impl Task for ProcessScene {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        {
            let span = ctx.tracer().span("download-scene");
            span.set_attribute("scene_id", self.scene_id.clone());
            // download input data
        }
        {
            let _span = ctx.tracer().span("compute-index");
            // perform expensive computation
        }
        Ok(())
    }
}

#[derive(Parser)]
struct Args {
    /// The jobtrace server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    #[arg(long, default_value = "S2A_001")]
    scene_id: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = TelemetryConfig::from_env().service_name("process-scene-rust");
    let client = Client::with_telemetry(&args.url, "", telemetry)?;
    let job = client
        .jobs()
        .submit(
            "process-scene",
            &ProcessScene {
                scene_id: args.scene_id,
            },
            "",
            0,
        )
        .await?;
    client
        .runner("")
        .register::<ProcessScene>()
        .run_all()
        .await?;

    // `run_all` flushed the runner's spans; the server stores them as they arrive. Wait until
    // the job span, the task span and both custom spans are queryable.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut spans = client.jobs().query_spans(job.id, None).await?;
    while spans.len() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        spans = client.jobs().query_spans(job.id, None).await?;
    }
    for span in &spans {
        eprintln!(
            "{} {} {:?}",
            span.name,
            span.status_code.as_str(),
            span.duration()
        );
    }
    // The one line on stdout: the job id, for scripts.
    #[allow(clippy::print_stdout)]
    {
        println!("{}", job.id);
    }
    Ok(())
}
