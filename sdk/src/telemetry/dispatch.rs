//! The `tracing` dispatch tasks run under, and the processors stamping `task_id` on spans and logs.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::logs::LogRecord as _;
use opentelemetry::trace::Span as _;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::trace::SpanProcessor;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

thread_local! {
    /// The task the current thread executes: stamped on its spans and logs as `task_id`.
    static CURRENT_TASK: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Marks the current thread as executing `task_id` until the guard drops.
pub(crate) fn enter_task(task_id: String) -> TaskMark {
    CURRENT_TASK.with(|current| *current.borrow_mut() = Some(task_id));
    TaskMark
}

pub(crate) struct TaskMark;

impl Drop for TaskMark {
    fn drop(&mut self) {
        CURRENT_TASK.with(|current| *current.borrow_mut() = None);
    }
}

fn current_task() -> Option<String> {
    CURRENT_TASK.with(|current| current.borrow().clone())
}

/// Stamps `task_id` on spans started while a task executes (custom spans, `tracing` spans),
/// as the Python client's tracer does: the server files them under their task.
#[derive(Debug)]
pub(super) struct TaskIdSpans;

impl SpanProcessor for TaskIdSpans {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {
        if let Some(task_id) = current_task() {
            span.set_attribute(KeyValue::new("task_id", task_id));
        }
    }
    fn on_end(&self, _: opentelemetry_sdk::trace::SpanData) {}
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// The same for log records (`ctx.logger()` and `tracing` events).
#[derive(Debug)]
pub(super) struct TaskIdLogs;

impl LogProcessor for TaskIdLogs {
    fn emit(&self, record: &mut SdkLogRecord, _: &opentelemetry::InstrumentationScope) {
        if let Some(task_id) = current_task() {
            record.add_attribute("task_id", task_id);
        }
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// The `tracing` dispatcher task bodies run under: `tracing` spans become OTel spans of `tracer`,
/// events log records of `loggers` (both from `level` up), and optionally a console printer.
pub(super) fn dispatch(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    loggers: &SdkLoggerProvider,
    console: bool,
    level: tracing::level_filters::LevelFilter,
) -> tracing::Dispatch {
    // The exporters' own diagnostics must not loop back into the exporters.
    let not_exporter_internals = tracing_subscriber::filter::filter_fn(|meta| {
        let target = meta.target();
        !(target.starts_with("opentelemetry")
            || target.starts_with("reqwest")
            || target.starts_with("hyper")
            || target.starts_with("h2"))
    });
    let registry = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer.clone())
                .with_filter(level),
        )
        .with(
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(loggers)
                .with_filter(not_exporter_internals)
                .with_filter(level),
        )
        .with(console.then(|| {
            // `RUST_LOG` as usual; INFO and up by default.
            let level = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(level)
        }));
    tracing::Dispatch::new(registry)
}
