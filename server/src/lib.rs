//! jobtrace: the server behind the dashboard — OTLP ingest, the trace store, the REST API.
#![recursion_limit = "256"]

pub mod api;
pub mod config;
pub mod demo;
pub mod ingest;
pub mod query;
pub mod router;
pub mod state;
pub mod store;
pub mod workflow;

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

/// Opens the store and assembles the state the router serves.
pub async fn build_state(config: &ServeConfig) -> Result<AppState, store::StoreError> {
    let store = store::open(&config.database_url).await?;
    Ok(AppState {
        store,
        limits: Limits::from_config(config),
        leptos_options: leptos_options(config),
    })
}
