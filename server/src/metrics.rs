//! `/metrics`: what an operator watches, in the Prometheus/OpenMetrics text format
//! (`prometheus-client`). One set per process: the counters are process-wide statics so that
//! the store, ingest and the gRPC services count without being handed a registry.
//!
//! Label values come from closed sets (routes as the router matched them, RPC names of the
//! services jobtrace offers, fixed reasons), never from what a client sent: a client cannot
//! grow the set of series.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Signal {
    spans,
    logs,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ItemLabels {
    pub signal: Signal,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    pub signal: Signal,
    /// `too_large`, `malformed`, `unsupported`, `timeout`, `overloaded`, `store`.
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route as matched (`/api/v1/jobs/{id}`), the RPC path for gRPC, or `other`.
    pub route: String,
    /// `2xx` … `5xx`; for gRPC the status code's name.
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `write`, `read` or `health` (the store's pools).
    pub pool: &'static str,
    /// `in_use`, `idle` or `max`.
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum TaskEvent {
    claimed,
    computed,
    failed,
    lease_expired,
    lease_refused,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub event: TaskEvent,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric jobtrace keeps.
pub struct Metrics {
    pub items_stored: Family<ItemLabels, Counter>,
    pub items_rejected: Family<ItemLabels, Counter>,
    pub requests_refused: Family<RefusedLabels, Counter>,
    pub request_seconds: Histograms<RequestLabels>,
    pub tasks: Family<TaskLabels, Counter>,
    pub write_seconds: Histograms<ItemLabels>,
    pub write_batch_items: Histograms<ItemLabels>,
    live_streams: Gauge,
    ingest_in_flight: Gauge,
    exports_in_flight: Gauge,
    db_connections: Family<PoolLabels, Gauge>,
    registry: Registry,
}

fn seconds() -> Histogram {
    // 1 ms to ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn batch_items() -> Histogram {
    // 1 to ~131,000 items.
    Histogram::new(exponential_buckets(1.0, 4.0, 9))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("jobtrace");
        let metrics = Metrics {
            items_stored: Family::default(),
            items_rejected: Family::default(),
            requests_refused: Family::default(),
            request_seconds: Family::new_with_constructor(seconds),
            tasks: Family::default(),
            write_seconds: Family::new_with_constructor(seconds),
            write_batch_items: Family::new_with_constructor(batch_items),
            live_streams: Gauge::default(),
            ingest_in_flight: Gauge::default(),
            exports_in_flight: Gauge::default(),
            db_connections: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "otlp_items_stored",
            "Spans and log records stored from OTLP requests",
            metrics.items_stored.clone(),
        );
        registry.register(
            "otlp_items_rejected",
            "Spans and log records rejected from accepted OTLP requests (partial success)",
            metrics.items_rejected.clone(),
        );
        registry.register(
            "otlp_requests_refused",
            "OTLP requests refused whole, by reason",
            metrics.requests_refused.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by route (or gRPC method) and status",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "tasks",
            "Task events: claims handed out, results and failures reported, leases that expired, \
             lease extensions refused to a runner that no longer holds the task",
            metrics.tasks.clone(),
        );
        registry.register(
            "store_write_duration_seconds",
            "Time to store one OTLP request's batch, committed",
            metrics.write_seconds.clone(),
        );
        registry.register(
            "store_write_batch_items",
            "Spans or log records per stored batch",
            metrics.write_batch_items.clone(),
        );
        registry.register(
            "live_streams_open",
            "Live job streams (server-sent events) open",
            metrics.live_streams.clone(),
        );
        registry.register(
            "ingest_requests_in_flight",
            "OTLP requests being decoded and stored",
            metrics.ingest_in_flight.clone(),
        );
        registry.register(
            "exports_in_flight",
            "File exports being streamed",
            metrics.exports_in_flight.clone(),
        );
        registry.register(
            "db_connections",
            "Database pool connections by pool (write, read, health) and state (in_use, idle, \
             and the pool's max)",
            metrics.db_connections.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// A stored OTLP batch: items stored and rejected, its size and how long the write took.
    pub fn stored(&self, signal: Signal, stored: u64, rejected: u64, took: Duration) {
        let labels = ItemLabels { signal };
        self.items_stored.get_or_create(&labels).inc_by(stored);
        self.items_rejected.get_or_create(&labels).inc_by(rejected);
        self.write_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        #[allow(clippy::cast_precision_loss)]
        self.write_batch_items
            .get_or_create(&labels)
            .observe(stored as f64);
    }

    pub fn refused(&self, signal: Signal, reason: &'static str) {
        self.requests_refused
            .get_or_create(&RefusedLabels { signal, reason })
            .inc();
    }

    pub fn task(&self, event: TaskEvent, n: u64) {
        self.tasks.get_or_create(&TaskLabels { event }).inc_by(n);
    }

    /// The gauges read at scrape time: live streams, ingest requests and exports in flight.
    pub fn set_in_flight(&self, live_streams: i64, ingest: i64, exports: i64) {
        self.live_streams.set(live_streams);
        self.ingest_in_flight.set(ingest);
        self.exports_in_flight.set(exports);
    }

    /// The store's pools as they are at scrape time: `(pool, open, idle, max)` connections
    /// (plain numbers: the store reports into the metrics, not the other way round).
    pub fn set_pools(&self, pools: impl IntoIterator<Item = (&'static str, u32, u32, u32)>) {
        for (pool, open, idle, max) in pools {
            let set = |state: &'static str, value: u32| {
                self.db_connections
                    .get_or_create(&PoolLabels { pool, state })
                    .set(i64::from(value));
            };
            set("in_use", open.saturating_sub(idle));
            set("idle", idle);
            set("max", max);
        }
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The route label of a request: the router's matched route, or for gRPC and Connect (whose
/// routes match every method of a service) the RPC path, unless the answer says the method does
/// not exist (gRPC `UNIMPLEMENTED`, Connect's `501`): a client-made method name is `other`.
fn route(request_path: &str, matched: Option<&str>, unimplemented: bool) -> String {
    let is_rpc = request_path.starts_with("/workflows.v1.")
        || request_path.starts_with("/opentelemetry.proto.collector.");
    match matched {
        Some(_) if is_rpc && !unimplemented => request_path.to_owned(),
        Some(matched) if !is_rpc => matched.to_owned(),
        _ => "other".to_owned(),
    }
}

/// Times every request by route and status.
pub async fn time_requests(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    // gRPC's status is in the trailers unless the answer is trailers-only; a streamed answer's
    // trailers are not waited for here, so such calls count as `grpc`.
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok());
    let is_grpc = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let status = match (is_grpc, grpc_status) {
        (true, Some(code)) => format!("grpc_{code}"),
        (true, None) => "grpc".to_owned(),
        (false, _) => format!("{}xx", response.status().as_u16() / 100),
    };
    let labels = RequestLabels {
        route: route(
            &path,
            matched.as_deref(),
            grpc_status == Some("12") || response.status() == StatusCode::NOT_IMPLEMENTED,
        ),
        status,
    };
    get()
        .request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_route_labels_come_from_routes_and_known_methods_only() {
        let rpc = "/workflows.v1.TaskService/NextTask";
        assert_eq!(
            route(rpc, Some("/workflows.v1.TaskService/{*rpc}"), false),
            rpc
        );
        // An unknown method of a known service, an unknown path, a matched HTTP route.
        let unknown = "/workflows.v1.TaskService/Made_Up_By_A_Client";
        assert_eq!(
            route(unknown, Some("/workflows.v1.TaskService/{*rpc}"), true),
            "other"
        );
        assert_eq!(route("/no/such/page", None, false), "other");
        assert_eq!(
            route("/api/v1/jobs/42", Some("/api/v1/jobs/{id}"), false),
            "/api/v1/jobs/{id}"
        );
    }
}
