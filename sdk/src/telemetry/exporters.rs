//! The OTLP/HTTP exporters, batched per signal, and the resource they report.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::BatchLogProcessor;
use opentelemetry_sdk::trace::BatchSpanProcessor;

use crate::error::Error;

/// HTTPS exporters need rustls' process-wide crypto provider: ring, unless the application
/// installed one of its own first (then that one is kept).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Batches spans to `url` (OTLP/HTTP protobuf) every `interval`, with `headers` on each request.
pub(super) fn spans(
    url: &str,
    headers: HashMap<String, String>,
    interval: Duration,
) -> Result<BatchSpanProcessor, Error> {
    install_crypto_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_headers(headers)
        .build()
        .map_err(|e| Error::Telemetry(format!("traces exporter for {url}: {e}")))?;
    let batch = opentelemetry_sdk::trace::BatchConfigBuilder::default()
        .with_scheduled_delay(interval)
        .build();
    Ok(BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build())
}

/// Batches log records to `url` (OTLP/HTTP protobuf) every `interval`, with `headers` on each
/// request.
pub(super) fn logs(
    url: &str,
    headers: HashMap<String, String>,
    interval: Duration,
) -> Result<BatchLogProcessor, Error> {
    install_crypto_provider();
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_headers(headers)
        .build()
        .map_err(|e| Error::Telemetry(format!("logs exporter for {url}: {e}")))?;
    let batch = opentelemetry_sdk::logs::BatchConfigBuilder::default()
        .with_scheduled_delay(interval)
        .build();
    Ok(BatchLogProcessor::builder(exporter)
        .with_batch_config(batch)
        .build())
}

/// The process the spans and logs come from: `service_name`, `instance_id`, version, pid, OS,
/// architecture and host name.
pub(super) fn resource(service_name: &str, instance_id: &str) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.namespace", "tilebox.workflows"),
        KeyValue::new("service.instance.id", instance_id.to_owned()),
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("os.type", std::env::consts::OS),
        KeyValue::new("host.arch", std::env::consts::ARCH),
    ];
    if let Some(host) = hostname() {
        attributes.push(KeyValue::new("host.name", host));
    }
    Resource::builder()
        .with_service_name(service_name.to_owned())
        .with_attributes(attributes)
        .build()
}

/// The machine's name (`HOSTNAME`, else `/etc/hostname`).
pub(crate) fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_https_exporters_build_with_the_ring_provider() {
        // Without a crypto provider reqwest panics while building an HTTPS client.
        let headers = HashMap::from([("x-axiom-dataset".to_owned(), "traces".to_owned())]);
        let interval = Duration::from_secs(1);
        assert!(
            spans(
                "https://collector.invalid/v1/traces",
                headers.clone(),
                interval
            )
            .is_ok()
        );
        assert!(logs("https://collector.invalid/v1/logs", headers, interval).is_ok());
    }
}
