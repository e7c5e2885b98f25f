//! Command-line flags and their environment fallbacks.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "jobtrace",
    version,
    about = "Self-hosted workflow jobs and their traces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard, the REST API and OTLP/HTTP on one port.
    Serve(ServeConfig),
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "JOBTRACE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// `sqlite:<path>` (created if missing) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "JOBTRACE_DATABASE_URL",
        default_value = "sqlite:data/jobtrace.db"
    )]
    pub database_url: String,
    /// Load demo jobs (through the OTLP ingest path) if the store is empty.
    #[arg(long, env = "JOBTRACE_DEMO")]
    pub demo: bool,
    /// Largest accepted OTLP request body, in bytes, after gzip decompression.
    #[arg(long, env = "JOBTRACE_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Lease of a claimed task, in seconds: a runner that stops extending it (because it died)
    /// loses the task to the queue after this long. Extensions are granted up to this length.
    #[arg(long, env = "JOBTRACE_TASK_LEASE_SECS", default_value_t = 300)]
    pub task_lease_secs: u64,
    /// How long an idle task runner is told to wait before asking for work again, in ms.
    #[arg(long, env = "JOBTRACE_RUNNER_IDLE_MS", default_value_t = 1000)]
    pub runner_idle_ms: u64,
    /// Directory holding the built site (pkg/jobtrace.js, .wasm, .css, static files).
    #[arg(long, env = "JOBTRACE_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}
