//! Telemetry export: where a runner's (and a client's) spans and logs go.

mod config;
mod dispatch;
mod exporters;

pub(crate) use exporters::hostname;

use std::sync::Arc;

use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::error::Error;

pub use config::{OtlpEndpoint, OtlpTarget, TelemetryConfig};
pub(crate) use dispatch::enter_task;

/// The instrumentation scope of task spans, as the Python client names it.
pub const SCOPE: &str = "tilebox.com/observability";

/// Running exporters: tracer and logger providers and the `tracing` dispatch tasks run under.
///
/// Spans and logs always go to the jobtrace server the client talks to (OTLP/HTTP protobuf,
/// batched) and to any number of extra OTLP endpoints: your own collector, or Axiom through its
/// preset ([`OtlpEndpoint::axiom`]). The environment variables of the Python client configure
/// extra endpoints too ([`TelemetryConfig::from_env`]).
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    tracer_provider: SdkTracerProvider,
    logger_provider: SdkLoggerProvider,
    tracer: opentelemetry_sdk::trace::SdkTracer,
    dispatch: tracing::Dispatch,
    config: TelemetryConfig,
}

impl Telemetry {
    /// Starts exporting to the jobtrace server at `server_url` and to `config.extra`.
    pub fn start(server_url: &str, token: &str, config: TelemetryConfig) -> Result<Self, Error> {
        let mut jobtrace = OtlpEndpoint::collector(server_url);
        if !token.is_empty() {
            jobtrace = jobtrace.header("Authorization", &format!("Bearer {token}"));
        }
        let resource = exporters::resource(&config.service_name, &config.instance_id);
        let mut tracers = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(dispatch::TaskIdSpans);
        let mut loggers = SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_log_processor(dispatch::TaskIdLogs);
        for endpoint in std::iter::once(&jobtrace).chain(&config.extra) {
            if let Some(target) = &endpoint.traces {
                tracers = tracers.with_span_processor(exporters::spans(
                    &target.url,
                    config::header_map(target),
                    config.export_interval,
                )?);
            }
            if let Some(target) = &endpoint.logs {
                loggers = loggers.with_log_processor(exporters::logs(
                    &target.url,
                    config::header_map(target),
                    config.export_interval,
                )?);
            }
        }
        let tracer_provider = tracers.build();
        let logger_provider = loggers.build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&tracer_provider, SCOPE);
        let dispatch = dispatch::dispatch(
            &tracer,
            &logger_provider,
            config.console,
            config.tracing_level,
        );
        Ok(Telemetry {
            inner: Arc::new(Inner {
                tracer_provider,
                logger_provider,
                tracer,
                dispatch,
                config,
            }),
        })
    }

    pub(crate) fn tracer(&self) -> &opentelemetry_sdk::trace::SdkTracer {
        &self.inner.tracer
    }

    pub(crate) fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.inner.logger_provider
    }

    /// The `tracing` dispatcher task bodies run under: spans become OTel spans, events log records.
    pub(crate) fn dispatch(&self) -> &tracing::Dispatch {
        &self.inner.dispatch
    }

    pub fn config(&self) -> &TelemetryConfig {
        &self.inner.config
    }

    /// Sends everything buffered now. Blocks until the exporters answered (or timed out).
    pub fn flush(&self) {
        // Failed exports are already reported by the SDK's own diagnostics; nothing to add here.
        let _ = self.inner.tracer_provider.force_flush();
        let _ = self.inner.logger_provider.force_flush();
    }

    /// [`Telemetry::flush`] from async code, off the runtime's worker threads.
    pub async fn flush_async(&self) {
        let telemetry = self.clone();
        let _ = tokio::task::spawn_blocking(move || telemetry.flush()).await;
    }
}
