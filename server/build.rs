//! Generates the Tilebox Workflows gRPC types and services from `proto/` (proto3 copies of the
//! `tilebox-workflows` client's descriptors, see docs/PROTOCOL.md) with protox, so no `protoc`
//! is needed. OTLP messages map to the `opentelemetry-proto` crate's types.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "workflows/v1/automation.proto",
        "workflows/v1/core.proto",
        "workflows/v1/diagram.proto",
        "workflows/v1/job.proto",
        "workflows/v1/storage_location.proto",
        "workflows/v1/task.proto",
        "workflows/v1/telemetry.proto",
        "workflows/v1/workflows.proto",
    ];
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .extern_path(
            ".opentelemetry.proto.common.v1",
            "::opentelemetry_proto::tonic::common::v1",
        )
        .extern_path(
            ".opentelemetry.proto.resource.v1",
            "::opentelemetry_proto::tonic::resource::v1",
        )
        .extern_path(
            ".opentelemetry.proto.trace.v1",
            "::opentelemetry_proto::tonic::trace::v1",
        )
        .extern_path(
            ".opentelemetry.proto.logs.v1",
            "::opentelemetry_proto::tonic::logs::v1",
        )
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed=proto");
    // `sqlx::migrate!` embeds these when the crate compiles: a new migration must rebuild it.
    println!("cargo:rerun-if-changed=migrations");
    Ok(())
}
