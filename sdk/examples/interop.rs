//! A Rust task runner and submitter for the cross-language tests (`tests/python`) and the
//! runner process tests (`sdk/tests`): Rust and Python tasks in one job.
//!
//!     cargo run --release --example interop -- --url URL run [--until-idle]
//!     cargo run --release --example interop -- --url URL submit-fan-out --count 3
//!
//! Task types: `RustLeaf` (runs here), `RustFanOut` (runs here, submits `PyLeaf` subtasks that
//! only a Python runner executes, then a `RustLeaf` depending on them) and `Nap` (sleeps; for
//! lease and shutdown tests), `CountFanOut` with its `Count` subtasks (each execution that ran to
//! its end appends one line to a tally file: the chaos run counts executions in the tasks
//! themselves, `scripts/chaos_runners.py`).

use std::time::Duration;

use clap::{Parser, Subcommand};
use jobtrace_workflows::{
    Client, ExecutionContext, SubtaskOptions, Task, TaskError, TaskIdentifier, TelemetryConfig,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct RustLeaf {
    index: i64,
}

impl Task for RustLeaf {
    fn identifier() -> TaskIdentifier {
        TaskIdentifier::new("RustLeaf", "v1.0")
    }

    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        let span = ctx.tracer().span("rust-work");
        span.set_attribute("index", self.index);
        ctx.logger().info(&format!("rust leaf {} done", self.index));
        tracing::info!(index = self.index, "via tracing");
        Ok(())
    }
}

/// Runs in Python (`tests/python/test_interop.py`); defined here only to be submitted.
#[derive(Serialize, Deserialize)]
struct PyLeaf {
    index: i64,
}

impl Task for PyLeaf {
    fn identifier() -> TaskIdentifier {
        TaskIdentifier::new("PyLeaf", "v1.0")
    }

    fn execute(&self, _: &mut ExecutionContext) -> Result<(), TaskError> {
        Err(TaskError::msg("PyLeaf runs on a Python runner"))
    }
}

#[derive(Serialize, Deserialize)]
struct RustFanOut {
    count: i64,
}

impl Task for RustFanOut {
    fn identifier() -> TaskIdentifier {
        TaskIdentifier::new("RustFanOut", "v1.0")
    }

    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        let mut leaves = Vec::new();
        for index in 0..self.count {
            leaves.push(ctx.submit_subtask(&PyLeaf { index })?);
        }
        ctx.submit_subtask_with(
            &RustLeaf { index: -1 },
            SubtaskOptions {
                depends_on: leaves,
                ..SubtaskOptions::default()
            },
        )?;
        Ok(())
    }
}

/// Sleeps `seconds`, logging first: tests kill or stop its runner meanwhile.
#[derive(Serialize, Deserialize)]
struct Nap {
    seconds: f64,
}

impl Task for Nap {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        ctx.logger().info("nap started");
        std::thread::sleep(Duration::from_secs_f64(self.seconds));
        Ok(())
    }
}

/// Works `millis`, then appends `<task id> <retry count> <pid>` to the tally file: one line per
/// execution that ran to its end (a runner killed before that leaves none).
#[derive(Serialize, Deserialize)]
struct Count {
    tally: String,
    millis: u64,
}

impl Task for Count {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        std::thread::sleep(Duration::from_millis(self.millis));
        let task = ctx.current_task();
        let line = format!("{} {} {}\n", task.id, task.retry_count, std::process::id());
        // One short O_APPEND write per line: lines of concurrent runners do not interleave.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.tally)?;
        std::io::Write::write_all(&mut file, line.as_bytes())?;
        Ok(())
    }
}

/// Submits `count` `Count` subtasks.
#[derive(Serialize, Deserialize)]
struct CountFanOut {
    count: u64,
    tally: String,
    millis: u64,
}

impl Task for CountFanOut {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        let counts: Vec<Count> = (0..self.count)
            .map(|_| Count {
                tally: self.tally.clone(),
                millis: self.millis,
            })
            .collect();
        ctx.submit_subtasks(&counts, &SubtaskOptions::default())?;
        Ok(())
    }
}

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "")]
    cluster: String,
    #[arg(long, default_value = "interop-rust")]
    service: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs RustLeaf, RustFanOut and Nap tasks.
    Run {
        /// Return when no task is left instead of waiting for more.
        #[arg(long)]
        until_idle: bool,
    },
    /// Submits a RustFanOut job and prints its id.
    SubmitFanOut {
        #[arg(long, default_value_t = 3)]
        count: i64,
    },
    /// Submits a CountFanOut job and prints its id.
    SubmitCounts {
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long)]
        tally: String,
        #[arg(long, default_value_t = 5)]
        millis: u64,
    },
    /// Submits a Nap job and prints its id.
    SubmitNap {
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = TelemetryConfig::from_env().service_name(args.service.clone());
    let client = Client::with_telemetry(&args.url, "", telemetry)?;
    let submitted = match args.command {
        Command::Run { until_idle } => {
            let runner = client
                .runner(&args.cluster)
                .register::<RustLeaf>()
                .register::<RustFanOut>()
                .register::<Nap>()
                .register::<Count>()
                .register::<CountFanOut>();
            if until_idle {
                runner.run_all().await?;
            } else {
                runner.run_forever().await?;
            }
            return Ok(());
        }
        Command::SubmitFanOut { count } => {
            client
                .jobs()
                .submit(
                    "interop-rust-fan-out",
                    &RustFanOut { count },
                    &args.cluster,
                    0,
                )
                .await?
        }
        Command::SubmitCounts {
            count,
            tally,
            millis,
        } => {
            let fan_out = CountFanOut {
                count,
                tally,
                millis,
            };
            client
                .jobs()
                .submit("chaos-counts", &fan_out, &args.cluster, 0)
                .await?
        }
        Command::SubmitNap { seconds } => {
            client
                .jobs()
                .submit("nap", &Nap { seconds }, &args.cluster, 0)
                .await?
        }
    };
    client.telemetry().flush_async().await;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", submitted.id);
    }
    Ok(())
}
