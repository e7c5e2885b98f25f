//! jobtrace-workflows: write, submit, run and trace Tilebox-compatible workflow tasks in Rust.
//!
//! Speaks the same gRPC protocol as the `tilebox-workflows` Python client, so Rust and Python
//! runners share clusters and one job's trace can cross both languages. See `examples/` and the
//! README's Rust quick start.

pub mod client;
pub mod context;
pub mod error;
pub mod runner;
pub mod task;
pub mod telemetry;

#[cfg(feature = "arrow")]
mod frame;
mod ids;
mod propagation;
mod subtasks;
mod task_identifier;

/// The Arrow types `to_arrow()` returns (feature `arrow`).
#[cfg(feature = "arrow")]
pub use {arrow_array, arrow_schema};

pub(crate) mod proto {
    //! Generated from `server/proto` by `build.rs` (client side only).
    #![allow(clippy::all, clippy::pedantic, missing_docs, dead_code)]

    pub mod tilebox {
        pub mod v1 {
            tonic::include_proto!("tilebox.v1");
        }
    }
    pub mod workflows {
        pub mod v1 {
            tonic::include_proto!("workflows.v1");
        }
    }
}

pub use client::{
    Automation, AutomationClient, Client, CronSchedule, Job, JobClient, JobProgress, JobQuery,
    JobState, LogLevel, LogQuery, LogRecord, Logs, Span, SpanEvent, Spans, StatusCode,
    StorageLocation, StorageLocationClient, StorageReference, StorageTrigger,
};
pub use context::{
    CurrentTask, ExecutionContext, FutureTask, JobRef, ProgressIndicator, SpanGuard, StorageEvent,
    SubtaskOptions, TaskLogger, TaskTracer,
};
pub use error::{Error, TaskError};
pub use opentelemetry::logs::{AnyValue, Severity};
pub use runner::{RunUntil, TaskRunner};
pub use task::{Task, TaskIdentifier};
pub use telemetry::{OtlpEndpoint, OtlpTarget, Telemetry, TelemetryConfig};
