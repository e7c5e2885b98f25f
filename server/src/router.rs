//! One router for everything on the port: dashboard pages and server functions, the REST API,
//! OTLP/HTTP ingest, the Tilebox Workflows gRPC services, static files and the health check.

use std::sync::Arc;

use app::api::SharedQueryPort;
use app::{App, shell};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::compression::CompressionLayer;

use crate::ingest::http::{export_logs, export_traces};
use crate::query::StoreQueries;
use crate::state::AppState;
use crate::workflow::WorkflowApi;

pub fn router(state: AppState) -> Router {
    let queries: SharedQueryPort = Arc::new(StoreQueries(state.store.clone()));
    let provide_queries = move || provide_context(queries.clone());
    let ingest = Router::new()
        .route("/v1/traces", post(export_traces))
        .route("/v1/logs", post(export_logs))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes));
    let options = state.leptos_options.clone();
    // gRPC (h2c, `/workflows.v1.*`) shares the port; it is merged after the HTTP layers so
    // response compression never touches gRPC frames.
    let grpc = crate::workflow::routes(WorkflowApi {
        store: state.store.clone(),
        lease_ns: state.limits.task_lease_ns,
        idle_ns: state.limits.runner_idle_ns,
    });
    Router::new()
        .route("/healthz", get(healthz))
        .merge(ingest)
        .merge(crate::api::routes())
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            provide_queries.clone(),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_queries, shell))
        .layer(CompressionLayer::new())
        .merge(grpc)
        .with_state(state)
}

/// 200 once the store answers.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}
