//! jobtrace: the server behind the dashboard — OTLP ingest, the trace store, the REST API.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod automations;
pub mod body;
pub mod config;
pub mod cron;
pub mod demo;
pub mod grpc;
pub mod grpc_wire;
pub mod ingest;
pub mod job_counts;
pub mod live_jobs;
pub mod metrics;
pub mod query;
pub mod request_id;
pub mod retention;
pub mod router;
pub mod serve;
pub mod shared_reads;
pub mod state;
pub mod storage_watch;
pub mod store;
pub mod task_stats;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use leptos::config::LeptosOptions;

use crate::config::ServeConfig;
use crate::state::{AppState, Limits};

/// Leptos options from our own configuration; the output name is fixed when the server is
/// compiled (`.cargo/config.toml`), so the page always asks for the bundle this build serves.
pub fn leptos_options(config: &ServeConfig) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(env!("LEPTOS_OUTPUT_NAME"))
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build()
}

/// Why the server will not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening the store at {url}: {source}")]
    Store {
        url: String,
        source: store::StoreError,
    },
    #[error("reading the API token file: {0}")]
    TokenFile(std::io::Error),
    #[error("invalid API token: {0}")]
    Token(#[from] auth::AuthConfigError),
    #[error(
        "refusing to listen on {0} without an API token: anyone who reaches it could run and \
         read everything. Give --api-token (or JOBTRACE_API_TOKENS / --api-token-file), listen \
         on 127.0.0.1, or pass --insecure-public to accept that"
    )]
    PublicWithoutToken(std::net::SocketAddr),
}

/// The configured tokens, checked against the address: no token on a public address only
/// with `--insecure-public`.
pub fn auth_from_config(config: &ServeConfig) -> Result<Option<Arc<auth::Auth>>, StartError> {
    let tokens = config.tokens().map_err(StartError::TokenFile)?;
    let auth = auth::Auth::new(tokens.iter().map(String::as_str))?;
    if auth.is_none() && !config.addr.ip().is_loopback() && !config.insecure_public {
        return Err(StartError::PublicWithoutToken(config.addr));
    }
    Ok(auth.map(Arc::new))
}

/// Now, in unix nanoseconds (the store's time unit).
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The OTLP requests ingested at once (at least one).
pub fn ingest_permits(config: &ServeConfig) -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(
        config.max_concurrent_ingest.max(1),
    ))
}

/// The bytes of request bodies held at once: as many largest bodies as requests are ingested
/// at once (128 MiB with the defaults).
pub fn body_budget(config: &ServeConfig) -> body::BodyBudget {
    body::BodyBudget::new(
        config
            .max_body_bytes
            .saturating_mul(config.max_concurrent_ingest.max(1)),
    )
}

/// The shares of decoded OTLP requests held at once (`ingest::export::decode_share`).
pub fn decode_shares() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(state::DECODE_SHARES))
}

/// The live job streams open at once (at least one).
pub fn live_permits(config: &ServeConfig) -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(config.max_live_streams.max(1)))
}

/// The file exports streamed at once (at least one).
pub fn export_permits(config: &ServeConfig) -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(
        config.max_concurrent_exports.max(1),
    ))
}

/// Opens the store and assembles the state the router serves.
pub async fn build_state(config: &ServeConfig) -> Result<AppState, StartError> {
    let auth = auth_from_config(config)?;
    let options = store::StoreOptions {
        full_sync: config.sync == config::SyncMode::Full,
    };
    let store = store::open_with(&config.database_url, &options)
        .await
        .map_err(|source| StartError::Store {
            url: config.database_url.clone(),
            source,
        })?;
    Ok(AppState {
        store,
        auth,
        ingest_permits: ingest_permits(config),
        body_budget: body_budget(config),
        decode_shares: decode_shares(),
        live_permits: live_permits(config),
        live_jobs: Arc::default(),
        export_permits: export_permits(config),
        limits: Limits::from_config(config),
        leptos_options: leptos_options(config),
        draining: Arc::default(),
    })
}
