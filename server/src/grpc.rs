//! The Tilebox Workflows gRPC API: jobs, task runners, clusters and telemetry queries.

pub mod proto {
    //! Generated from `server/proto` by `build.rs`.
    #![allow(clippy::all, clippy::pedantic, missing_docs)]

    pub mod tilebox {
        pub mod v1 {
            tonic::include_proto!("tilebox.v1");
        }
    }
    pub mod workflows {
        pub mod v1 {
            tonic::include_proto!("workflows.v1");
        }
    }
}

mod automations;
mod clusters;
pub mod connect;
pub mod convert;
mod jobs;
mod storage;
mod tasks;
mod telemetry;

use std::net::SocketAddr;

use proto::workflows::v1::automation_service_server::AutomationServiceServer;
use proto::workflows::v1::job_service_server::JobServiceServer;
use proto::workflows::v1::storage_location_service_server::StorageLocationServiceServer;
use proto::workflows::v1::task_service_server::TaskServiceServer;
use proto::workflows::v1::telemetry_query_service_server::TelemetryQueryServiceServer;
use proto::workflows::v1::workflows_service_server::WorkflowsServiceServer;

use crate::store::SharedStore;
use crate::store::workflow::Reporter;

/// What the gRPC services share.
#[derive(Clone)]
pub struct WorkflowApi {
    pub store: SharedStore,
    /// Lease given with a claimed task and the most one extension grants.
    pub lease_ns: i64,
    /// How long an idle runner is told to wait before asking again.
    pub idle_ns: i64,
    /// Set once the server is shutting down: results and failures are still taken, but no new
    /// task is handed out (a claim whose answer a closing connection drops would wait out its
    /// whole lease); runners are told to idle and ask the next server.
    pub draining: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub use crate::now_ns;
pub(crate) use convert::timestamp;

/// A store write run to its end even if the client goes away (`store::to_the_end`), its error
/// as a gRPC status.
pub(crate) async fn to_the_end<T, F>(write: F) -> Result<T, tonic::Status>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, crate::store::StoreError>> + Send + 'static,
{
    crate::store::to_the_end(write)
        .await
        .map_err(convert::status)
}

/// The metadata a runner names itself with (the Rust SDK: `host:pid:random`). Without it,
/// a runner is known by its connection's peer address (the Python client).
pub const RUNNER_HEADER: &str = "x-jobtrace-runner";
/// The attempt a runner reports on: sent back with a claimed task, named by the runner in its
/// lease extensions, results and failures (a fencing token: see `store/workflow/holder.rs`).
pub const ATTEMPT_HEADER: &str = "x-jobtrace-attempt";
/// Longest runner name kept.
const MAX_RUNNER_LEN: usize = 128;

/// Who sent a request: its `x-jobtrace-runner` and `x-jobtrace-attempt` metadata, else the peer
/// address of its connection (each Python runner process has its own). Malformed metadata is
/// refused rather than guessed at.
fn reporter<T>(request: &tonic::Request<T>) -> Result<Reporter, tonic::Status> {
    let metadata = request.metadata();
    let text = |name: &str| -> Result<Option<&str>, tonic::Status> {
        metadata
            .get(name)
            .map(|value| {
                value.to_str().map_err(|_| {
                    tonic::Status::invalid_argument(format!("{name} must be printable ASCII"))
                })
            })
            .transpose()
    };
    let runner = match text(RUNNER_HEADER)? {
        Some(name) => {
            let printable = name.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
            if name.is_empty() || name.len() > MAX_RUNNER_LEN || !printable {
                return Err(tonic::Status::invalid_argument(format!(
                    "{RUNNER_HEADER} must be 1 to {MAX_RUNNER_LEN} printable ASCII characters"
                )));
            }
            name.to_owned()
        }
        None => request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0.to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
    };
    let attempt = match text(ATTEMPT_HEADER)? {
        Some(value) => Some(
            value
                .parse::<i64>()
                .ok()
                .filter(|a| *a > 0)
                .ok_or_else(|| {
                    tonic::Status::invalid_argument(format!(
                        "{ATTEMPT_HEADER} must be a positive integer"
                    ))
                })?,
        ),
        None => None,
    };
    Ok(Reporter::new(runner, attempt))
}

/// The services the Tilebox client calls, routed by path (`/workflows.v1.<Service>/<Rpc>`),
/// under their gRPC paths (which take Connect's unary calls too, through
/// `connect::unary` in front of the whole router).
pub fn routes<S: Clone + Send + Sync + 'static>(api: WorkflowApi) -> axum::Router<S> {
    axum::Router::new()
        .route_service(
            "/workflows.v1.JobService/{*rpc}",
            JobServiceServer::new(api.clone()),
        )
        .route_service(
            "/workflows.v1.TaskService/{*rpc}",
            TaskServiceServer::new(api.clone()),
        )
        .route_service(
            "/workflows.v1.WorkflowsService/{*rpc}",
            WorkflowsServiceServer::new(api.clone()),
        )
        .route_service(
            "/workflows.v1.TelemetryQueryService/{*rpc}",
            TelemetryQueryServiceServer::new(api.clone()),
        )
        .route_service(
            "/workflows.v1.AutomationService/{*rpc}",
            AutomationServiceServer::new(api.clone()),
        )
        .route_service(
            "/workflows.v1.StorageLocationService/{*rpc}",
            StorageLocationServiceServer::new(api),
        )
}

/// Implements the RPCs jobtrace does not offer as `UNIMPLEMENTED`. Written in the shape
/// `#[async_trait]` gives trait methods, because that attribute does not see into macros.
macro_rules! unimplemented_rpcs {
    ($($name:ident($request:ty) -> $response:ty;)*) => {
        $(
            fn $name<'life0, 'async_trait>(
                &'life0 self,
                _request: tonic::Request<$request>,
            ) -> std::pin::Pin<Box<
                dyn std::future::Future<Output = Result<tonic::Response<$response>, tonic::Status>>
                    + Send
                    + 'async_trait,
            >>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async move {
                    Err(tonic::Status::unimplemented(concat!(
                        stringify!($name),
                        " is not offered by jobtrace"
                    )))
                })
            }
        )*
    };
}
use unimplemented_rpcs;
