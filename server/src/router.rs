//! One router for everything on the port: dashboard pages and server functions, the REST API,
//! OTLP/HTTP ingest, the Tilebox Workflows gRPC services, static files and the health check.

use std::sync::{Arc, OnceLock};

use app::api::SharedQueryPort;
use app::{App, shell};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth;
use crate::grpc::{WorkflowApi, connect};
use crate::query::StoreQueries;
use crate::state::AppState;

/// Connect request bodies of the largest size held at once (64 MiB).
const CONNECT_BODIES: usize = 16;

pub fn router(state: AppState) -> Router {
    let queries: SharedQueryPort = Arc::new(StoreQueries::new(state.store.clone()));
    let provide_queries = move || {
        provide_context(queries.clone());
        app::security::provide_request_nonce();
    };
    let options = state.leptos_options.clone();
    // The site's files straight from disk with their validators (Leptos's file handler drops a
    // request's conditional headers, so a browser could never get a 304).
    let site_files = tower_http::services::ServeDir::new(format!(
        "{}/{}",
        options.site_root, options.site_pkg_dir
    ));
    // gRPC (h2c, `/workflows.v1.*`; Connect calls on the same paths) shares the port; it is
    // merged after the HTTP layers so response compression never touches gRPC frames.
    let grpc = crate::grpc::routes(WorkflowApi {
        store: state.store.clone(),
        lease_ns: state.limits.task_lease_ns,
        idle_ns: state.limits.runner_idle_ns,
        draining: Arc::clone(&state.draining),
    });
    let connect = connect::ConnectLimits {
        body_read_timeout: state.limits.body_read_timeout,
        // A budget of its own: the task control plane (claims, leases, results of Connect
        // runners) must not queue behind telemetry uploads.
        body_budget: crate::body::BodyBudget::new(CONNECT_BODIES * connect::MAX_MESSAGE_BYTES),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/go", get(go_to))
        .nest_service("/pkg", site_files)
        .route("/signin", get(auth::sign_in_page).post(auth::sign_in))
        .route("/signout", post(auth::sign_out))
        .merge(crate::ingest::http_routes())
        .merge(crate::api::routes())
        .leptos_routes_with_context(&state, route_list(), provide_queries.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_queries, shell))
        // The fastest gzip level (nginx's default too): a 10,000-span JSON page (7 MB) took
        // ~70 ms to compress at the default level, most of its answer time.
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(axum::middleware::from_fn(content_security_policy))
        .layer(header_if_absent(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(header_if_absent(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(axum::middleware::from_fn(revalidate_site_files))
        .layer(header_if_absent(header::REFERRER_POLICY, "same-origin"))
        .merge(grpc)
        .merge(crate::ingest::grpc_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::require,
        ))
        // Connect calls become the gRPC calls they mean before anything else sees them, so
        // auth refuses them as gRPC and the refusal goes back in Connect's terms.
        .layer(axum::middleware::from_fn_with_state(
            connect,
            connect::unary,
        ))
        .layer(axum::middleware::from_fn(refuse_nul))
        .layer(axum::middleware::from_fn(crate::metrics::time_requests))
        .layer(axum::middleware::from_fn(crate::request_id::assign))
        .with_state(state)
}

/// A NUL in a path or query parameter matches nothing anyone stored (ingest cleans NUL out of
/// text) and PostgreSQL refuses it in a bound string: a clear 400 instead of a failed query.
async fn refuse_nul(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = request.uri();
    let has_nul = |text: &str| text.contains("%00") || text.contains('\0');
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        use axum::response::IntoResponse;
        let body =
            serde_json::json!({ "error": "parameters may not contain NUL characters (%00)" });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// The app's routes, listed once per process.
///
/// Listing runs the whole app with resource loading switched off by a process-wide flag
/// (`leptos_server::SuppressResourceLoad`): a resource whose future is first polled while any
/// thread lists routes waits forever, and with it the page render awaiting it. Listing again
/// for every router (as each router test did) hung renders running beside it; listed once,
/// before any router exists, no render can ever overlap it.
pub fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Every HTML page gets a Content-Security-Policy naming a script nonce made for its request;
/// the nonce goes to the page through the request (`app::security::provide_request_nonce`), so
/// the scripts the page renders carry the one the header names. Pages with their own policy (the
/// sign-in form) keep it.
async fn content_security_policy(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let nonce = leptos::nonce::Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if is_html
        && !response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        let policy = app::security::policy(Some(&nonce));
        if let Ok(value) = HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// The site's files (`/pkg/…`: the wasm bundle, its script, the CSS) keep their names from one
/// release to the next, so a browser must ask before reusing its copy (`no-cache`; the answer is
/// a 304 while the file is unchanged, `ServeDir` honours `If-Modified-Since`): after an upgrade
/// nobody runs an old bundle against a new server.
async fn revalidate_site_files(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let site_file = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    if site_file && !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

/// The top bar's "Go to" box (`/go?to=…`): a job id (UUID) or trace id (32 hex digits) opens
/// that job's page; anything else searches job names.
async fn go_to(
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Redirect {
    let text = query.get("to").map(String::as_str).unwrap_or_default();
    axum::response::Redirect::to(&go_to_path(text))
}

/// Where the "Go to" box's text leads (see [`go_to`]).
fn go_to_path(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "/".to_owned();
    }
    // Written back in their canonical form: nothing of the text but the id reaches the path.
    // 32 hex digits are a trace id (a UUID parser would take them too).
    if let Some(trace) = crate::store::TraceId::parse_hex(text) {
        return format!("/jobs/{trace}");
    }
    if let Ok(job) = uuid::Uuid::parse_str(text) {
        return format!("/jobs/{job}");
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", text)
        .finish();
    format!("/?{query}")
}

/// Everything that is not a page (JSON, files, errors) gets a policy that allows nothing to run.
fn header_if_absent(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
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

/// `GET /metrics` (docs/METRICS.md); the in-flight gauges are read off the semaphores now.
async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let in_use = |max: usize, available: usize| {
        i64::try_from(max.saturating_sub(available)).unwrap_or(i64::MAX)
    };
    let limits = &state.limits;
    let metrics = crate::metrics::get();
    metrics.set_pools(
        state
            .store
            .pools()
            .into_iter()
            .map(|p| (p.name, p.open, p.idle, p.max)),
    );
    metrics.set_in_flight(
        in_use(
            limits.max_live_streams,
            state.live_permits.available_permits(),
        ),
        in_use(
            limits.max_concurrent_ingest,
            state.ingest_permits.available_permits(),
        ),
        in_use(
            limits.max_concurrent_exports,
            state.export_permits.available_permits(),
        ),
    );
    match metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_go_to_opens_ids_and_searches_the_rest() {
        let job = "0190e0a4-0000-7000-8000-000000000001";
        assert_eq!(go_to_path(&format!(" {job} ")), format!("/jobs/{job}"));
        let trace = "5B8EFFF798038103D269B633813FC60C";
        assert_eq!(
            go_to_path(trace),
            format!("/jobs/{}", trace.to_ascii_lowercase())
        );
        assert_eq!(go_to_path("tiles survey"), "/?name=tiles+survey");
        assert_eq!(go_to_path("a&b=/evil"), "/?name=a%26b%3D%2Fevil");
        assert_eq!(go_to_path("  "), "/");
        let braced = "{0190e0a4-0000-7000-8000-000000000001}";
        assert_eq!(go_to_path(braced), format!("/jobs/{job}"));
    }
}
