//! Where telemetry goes and who sends it: `TelemetryConfig`, OTLP destinations, env, the Axiom preset.

use std::collections::HashMap;
use std::time::Duration;

/// Axiom's ingest API; `AXIOM_URL` replaces it (self-hosted, tests).
const AXIOM_URL: &str = "https://api.axiom.co";

/// One OTLP/HTTP destination for one signal: the full URL and the headers sent with each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpTarget {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// A destination for spans and logs; either signal may be absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtlpEndpoint {
    pub traces: Option<OtlpTarget>,
    pub logs: Option<OtlpTarget>,
}

impl OtlpEndpoint {
    /// A collector at `base` (e.g. `http://localhost:4318`): `/v1/traces` and `/v1/logs`.
    pub fn collector(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        OtlpEndpoint {
            traces: Some(target(format!("{base}/v1/traces"))),
            logs: Some(target(format!("{base}/v1/logs"))),
        }
    }

    /// Full URLs per signal, as `OTEL_TRACES_ENDPOINT` / `OTEL_LOGS_ENDPOINT` give them.
    pub fn urls(traces: Option<String>, logs: Option<String>) -> Self {
        OtlpEndpoint {
            traces: traces.map(target),
            logs: logs.map(target),
        }
    }

    /// Adds a header (e.g. an API key) to every export request of both signals.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        for signal in [&mut self.traces, &mut self.logs].into_iter().flatten() {
            signal.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Axiom: `POST {AXIOM_URL}/v1/traces` and `/v1/logs` with `Authorization: Bearer <key>` and
    /// `X-Axiom-Dataset` naming each signal's dataset; a signal without a dataset is not sent.
    /// `AXIOM_URL` defaults to `https://api.axiom.co`.
    pub fn axiom(api_key: &str, traces_dataset: Option<&str>, logs_dataset: Option<&str>) -> Self {
        let base = std::env::var("AXIOM_URL").unwrap_or_else(|_| AXIOM_URL.to_owned());
        Self::axiom_at(&base, api_key, traces_dataset, logs_dataset)
    }

    /// [`OtlpEndpoint::axiom`] at another base URL.
    pub fn axiom_at(
        base: &str,
        api_key: &str,
        traces_dataset: Option<&str>,
        logs_dataset: Option<&str>,
    ) -> Self {
        let base = base.trim_end_matches('/');
        let signal = |path: &str, dataset: &str| OtlpTarget {
            url: format!("{base}{path}"),
            headers: vec![
                ("Authorization".to_owned(), format!("Bearer {api_key}")),
                ("X-Axiom-Dataset".to_owned(), dataset.to_owned()),
            ],
        };
        OtlpEndpoint {
            traces: traces_dataset.map(|dataset| signal("/v1/traces", dataset)),
            logs: logs_dataset.map(|dataset| signal("/v1/logs", dataset)),
        }
    }
}

fn target(url: String) -> OtlpTarget {
    OtlpTarget {
        url,
        headers: Vec::new(),
    }
}

pub(super) fn header_map(target: &OtlpTarget) -> HashMap<String, String> {
    target.headers.iter().cloned().collect()
}

/// What the runner's telemetry looks like: its identity and its extra destinations.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// `service.name` of the spans and logs (the Python client's `Client(name=…)`).
    pub service_name: String,
    /// `service.instance.id`: `$TILEBOX_RUNTIME_ID` or a fresh UUID per process.
    pub instance_id: String,
    /// Destinations besides the jobtrace server.
    pub extra: Vec<OtlpEndpoint>,
    /// How often batches are sent.
    pub export_interval: Duration,
    /// Also print task logs to stderr.
    pub console: bool,
    /// The least severe `tracing` spans and events inside a task that are exported (INFO by
    /// default, so chatty dependencies stay out; `ctx.logger()` records are always exported).
    pub tracing_level: tracing::level_filters::LevelFilter,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            service_name: "jobtrace-rust".to_owned(),
            instance_id: std::env::var("TILEBOX_RUNTIME_ID")
                .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string()),
            extra: Vec::new(),
            export_interval: Duration::from_secs(1),
            console: true,
            tracing_level: tracing::level_filters::LevelFilter::INFO,
        }
    }
}

impl TelemetryConfig {
    /// The defaults plus what the environment asks for, as the Python client reads it:
    /// `OTEL_TRACES_ENDPOINT` / `OTEL_LOGS_ENDPOINT` (full URLs of an extra OTLP/HTTP
    /// destination) and `AXIOM_API_KEY` with `AXIOM_TRACES_DATASET` / `AXIOM_LOGS_DATASET`.
    pub fn from_env() -> Self {
        Self::default().with_env(|name| std::env::var(name).ok())
    }

    fn with_env(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let traces = var("OTEL_TRACES_ENDPOINT").filter(|v| !v.is_empty());
        let logs = var("OTEL_LOGS_ENDPOINT").filter(|v| !v.is_empty());
        if traces.is_some() || logs.is_some() {
            self.extra.push(OtlpEndpoint::urls(traces, logs));
        }
        if let Some(key) = var("AXIOM_API_KEY").filter(|v| !v.is_empty()) {
            let traces = var("AXIOM_TRACES_DATASET").filter(|v| !v.is_empty());
            let logs = var("AXIOM_LOGS_DATASET").filter(|v| !v.is_empty());
            if traces.is_some() || logs.is_some() {
                let base = var("AXIOM_URL").unwrap_or_else(|| AXIOM_URL.to_owned());
                self.extra.push(OtlpEndpoint::axiom_at(
                    &base,
                    &key,
                    traces.as_deref(),
                    logs.as_deref(),
                ));
            }
        }
        self
    }

    #[must_use]
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sends spans and logs to one more OTLP/HTTP destination as well.
    #[must_use]
    pub fn export_to(mut self, endpoint: OtlpEndpoint) -> Self {
        self.extra.push(endpoint);
        self
    }

    #[must_use]
    pub fn export_interval(mut self, interval: Duration) -> Self {
        self.export_interval = interval;
        self
    }

    #[must_use]
    pub fn console(mut self, on: bool) -> Self {
        self.console = on;
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_env_configures_extra_endpoint_and_axiom() {
        let env: HashMap<&str, &str> = [
            ("OTEL_TRACES_ENDPOINT", "http://collector:4318/v1/traces"),
            ("AXIOM_API_KEY", "xaat-123"),
            ("AXIOM_TRACES_DATASET", "spans"),
            ("AXIOM_LOGS_DATASET", "logs"),
            ("AXIOM_URL", "http://127.0.0.1:9"),
        ]
        .into_iter()
        .collect();
        let config = TelemetryConfig::default().with_env(|k| env.get(k).map(|v| (*v).to_owned()));
        assert_eq!(config.extra.len(), 2);
        let extra = config.extra[0].traces.as_ref().map(|t| t.url.as_str());
        assert_eq!(extra, Some("http://collector:4318/v1/traces"));
        assert_eq!(config.extra[0].logs, None);
        let axiom = &config.extra[1];
        let (traces, logs) = (axiom.traces.as_ref().unwrap(), axiom.logs.as_ref().unwrap());
        assert_eq!(traces.url, "http://127.0.0.1:9/v1/traces");
        assert_eq!(logs.url, "http://127.0.0.1:9/v1/logs");
        assert_eq!(header_map(traces)["Authorization"], "Bearer xaat-123");
        assert_eq!(header_map(traces)["X-Axiom-Dataset"], "spans");
        assert_eq!(header_map(logs)["X-Axiom-Dataset"], "logs");
    }

    #[test]
    fn test_axiom_without_datasets_sends_nothing() {
        let config =
            TelemetryConfig::default().with_env(|k| (k == "AXIOM_API_KEY").then(|| "k".to_owned()));
        assert!(config.extra.is_empty());
    }
}
