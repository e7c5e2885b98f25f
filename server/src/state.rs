//! What every handler can reach: the store, limits and the Leptos options.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::auth::SharedAuth;
use crate::store::SharedStore;

/// Messages one OTLP request may hold: 2 M at ~100 bytes decoded is the worst a request can cost.
pub const MAX_MESSAGES_PER_REQUEST: usize = 2_000_000;

/// The shares of decoded OTLP requests held at once (`ingest::export::decode_share`).
pub const DECODE_SHARES: usize = 2_000_000;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Spans or log records one OTLP request may hold (counted before decoding).
    pub max_items_per_request: usize,
    /// Messages at any depth one OTLP request may hold (attributes, events, values…).
    pub max_messages_per_request: usize,
    /// Lease of a claimed task (and the longest extension), in nanoseconds.
    pub task_lease_ns: i64,
    /// Suggested wait for idle runners, in nanoseconds.
    pub runner_idle_ns: i64,
    /// How long an OTLP request body may take to arrive.
    pub body_read_timeout: std::time::Duration,
    /// The permits of `AppState`'s semaphores, for `/metrics` to tell how many are in use.
    pub max_concurrent_ingest: usize,
    pub max_live_streams: usize,
    pub max_concurrent_exports: usize,
}

impl Limits {
    pub fn from_config(config: &crate::config::ServeConfig) -> Self {
        let secs = |s: u64| i64::try_from(s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
        Limits {
            max_body_bytes: config.max_body_bytes,
            max_items_per_request: config.max_items_per_request,
            body_read_timeout: std::time::Duration::from_secs(config.body_read_timeout_secs.max(1)),
            max_messages_per_request: MAX_MESSAGES_PER_REQUEST,
            max_concurrent_ingest: config.max_concurrent_ingest.max(1),
            max_live_streams: config.max_live_streams.max(1),
            max_concurrent_exports: config.max_concurrent_exports.max(1),
            // Two seconds to a week: the client reads leases in whole seconds, and lease
            // arithmetic stays far from overflow.
            task_lease_ns: secs(config.task_lease_secs.clamp(2, 7 * 24 * 3600)),
            runner_idle_ns: i64::try_from(config.runner_idle_ms.saturating_mul(1_000_000))
                .unwrap_or(i64::MAX),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    /// OTLP requests decoded and stored at once.
    pub ingest_permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// Bytes of OTLP and Connect request bodies held at once.
    pub body_budget: crate::body::BodyBudget,
    /// Shares of decoded OTLP requests held at once (`ingest::export::decode_share`).
    pub decode_shares: std::sync::Arc<tokio::sync::Semaphore>,
    /// Live job streams open at once (`--max-live-streams`).
    pub live_permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// The jobs those streams watch, one store read shared by all streams of a job.
    pub live_jobs: std::sync::Arc<crate::live_jobs::LiveJobs>,
    /// File exports streamed at once (`--max-concurrent-exports`).
    pub export_permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// API tokens; `None`: nothing is checked.
    pub auth: SharedAuth,
    pub limits: Limits,
    pub leptos_options: LeptosOptions,
    /// Set when shutdown begins (see `grpc::WorkflowApi::draining`).
    pub draining: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FromRef<AppState> for SharedAuth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
