//! What every handler can reach: the store, limits and the Leptos options.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::store::SharedStore;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// What one OTLP request may hold (counted before decoding).
    pub budget: crate::ingest::budget::Budget,
    /// Lease of a claimed task (and the longest extension), in nanoseconds.
    pub task_lease_ns: i64,
    /// Suggested wait for idle runners, in nanoseconds.
    pub runner_idle_ns: i64,
}

impl Limits {
    pub fn from_config(config: &crate::config::ServeConfig) -> Self {
        let secs = |s: u64| i64::try_from(s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
        Limits {
            max_body_bytes: config.max_body_bytes,
            budget: crate::ingest::budget::Budget {
                items: config.max_items_per_request,
                ..crate::ingest::budget::Budget::default()
            },
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
    /// API tokens; `None`: nothing is checked.
    pub auth: Option<std::sync::Arc<crate::auth::Auth>>,
    pub limits: Limits,
    pub leptos_options: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
