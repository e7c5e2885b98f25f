//! Command-line flags and their environment fallbacks.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Spans or log records one OTLP request may hold unless `--max-items-per-request` says otherwise.
pub const DEFAULT_MAX_ITEMS_PER_REQUEST: usize = 100_000;

#[derive(Debug, Parser)]
#[command(
    name = "jobtrace",
    version,
    about = "Self-hosted workflow jobs and their traces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The server's own logs on stderr: `text` for people, `json` (one object per line, with
    /// the request id of the request a line belongs to) for log collectors.
    #[arg(long, global = true, env = "JOBTRACE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once at start: the size of the serve variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard, the REST API and OTLP/HTTP on one port.
    Serve(ServeConfig),
    /// Delete jobs that ended longer ago than `--older-than`, with their tasks, spans and logs
    /// (a little at a time: a server may keep serving the same store meanwhile).
    Prune(PruneArgs),
    /// Copy a live SQLite store to a new file, consistent as of one moment, while the server
    /// keeps ingesting (PostgreSQL: use pg_dump).
    Backup(BackupArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// The store, as `serve` takes it.
    #[arg(
        long,
        env = "JOBTRACE_DATABASE_URL",
        default_value = "sqlite:data/jobtrace.db"
    )]
    pub database_url: String,
    /// How old a job's end must be to go: `30d`, `12h`, `90m`, `3600s`, `2w`.
    #[arg(long, value_parser = parse_age)]
    pub older_than: std::time::Duration,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The SQLite store to copy, as `serve` takes it.
    #[arg(
        long,
        env = "JOBTRACE_DATABASE_URL",
        default_value = "sqlite:data/jobtrace.db"
    )]
    pub database_url: String,
    /// The new file (must not exist yet).
    pub path: std::path::PathBuf,
}

/// How SQLite syncs commits to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncMode {
    /// A commit survives the process crashing; the last commits before a power loss or an OS
    /// crash may be lost (WAL with `synchronous=NORMAL`). The default.
    #[default]
    Normal,
    /// Every commit is on disk before it is acknowledged, power loss included
    /// (`synchronous=FULL`; slower ingest, see docs/RELIABILITY.md).
    Full,
}

/// An age such as `30d`: a whole number and a unit (`s`, `m`, `h`, `d`, `w`).
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h, d or w (as in 30d)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} must start with a whole number (as in 30d)"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        other => return Err(format!("unknown unit {other:?}: use s, m, h, d or w")),
    };
    let total = number
        .checked_mul(seconds)
        .filter(|&total| total > 0 && total <= 100 * 365 * 86_400)
        .ok_or_else(|| format!("{text:?} must be more than nothing and at most 100 years"))?;
    Ok(std::time::Duration::from_secs(total))
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
    /// Most spans or log records one OTLP request may hold (counted before decoding); larger
    /// requests get 413 and should be split.
    #[arg(
        long,
        env = "JOBTRACE_MAX_ITEMS_PER_REQUEST",
        default_value_t = DEFAULT_MAX_ITEMS_PER_REQUEST
    )]
    pub max_items_per_request: usize,
    /// OTLP requests decoded and stored at once; more wait up to 5 s, then get 503.
    #[arg(long, env = "JOBTRACE_MAX_CONCURRENT_INGEST", default_value_t = 8)]
    pub max_concurrent_ingest: usize,
    /// Live job streams (`/api/v1/jobs/{id}/events`, the job page's live updates) open at once;
    /// more get 503 until one closes (each polls the store while it is open).
    #[arg(long, env = "JOBTRACE_MAX_LIVE_STREAMS", default_value_t = 256)]
    pub max_live_streams: usize,
    /// Seconds a client has to send a request's headers (HTTP/1.1) once it started; slower
    /// connections are closed (a client sending half its headers held one forever).
    #[arg(long, env = "JOBTRACE_HEADER_READ_TIMEOUT_SECS", default_value_t = 15)]
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send an OTLP request body once its headers arrived; slower
    /// uploads get 408 and nothing is stored.
    #[arg(long, env = "JOBTRACE_BODY_READ_TIMEOUT_SECS", default_value_t = 30)]
    pub body_read_timeout_secs: u64,
    /// CSV/Parquet/Arrow exports streamed at once; more get 503 until one ends.
    #[arg(long, env = "JOBTRACE_MAX_CONCURRENT_EXPORTS", default_value_t = 4)]
    pub max_concurrent_exports: usize,
    /// Lease of a claimed task, in seconds: a runner that stops extending it (because it died)
    /// loses the task to the queue after this long. Extensions are granted up to this length.
    #[arg(long, env = "JOBTRACE_TASK_LEASE_SECS", default_value_t = 300)]
    pub task_lease_secs: u64,
    /// How long an idle task runner is told to wait before asking for work again, in ms.
    #[arg(long, env = "JOBTRACE_RUNNER_IDLE_MS", default_value_t = 1000)]
    pub runner_idle_ms: u64,
    /// API token that clients (gRPC, OTLP, REST) send as `Authorization: Bearer <token>` and
    /// people type to sign in to the dashboard; repeat for several. Without any token nothing
    /// is checked, and the server listens on loopback addresses only (see
    /// `--insecure-public`). The environment variable takes tokens separated by commas.
    #[arg(
        long = "api-token",
        env = "JOBTRACE_API_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_tokens: Vec<String>,
    /// A file with one API token per line (blank lines and `#` comments skipped).
    #[arg(long, env = "JOBTRACE_API_TOKEN_FILE")]
    pub api_token_file: Option<std::path::PathBuf>,
    /// Listen on a non-loopback address without any API token: anyone who reaches the port can
    /// submit and cancel jobs, claim tasks, send spans and read everything.
    #[arg(long, env = "JOBTRACE_INSECURE_PUBLIC")]
    pub insecure_public: bool,
    /// On SIGTERM, how long requests in flight may take before the server exits without them.
    #[arg(long, env = "JOBTRACE_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Keep jobs this long after they end (`30d`, `12h`, …); older ones are deleted with their
    /// tasks, spans and logs in the background, a little at a time. Unset: keep everything.
    #[arg(long, env = "JOBTRACE_RETENTION", value_parser = parse_age)]
    pub retention: Option<std::time::Duration>,
    /// A folder whose subfolders local storage locations may name for the server to watch:
    /// new files there trigger storage-event automations. Repeat for several (the environment
    /// variable takes paths separated by commas). Locations elsewhere are kept, for runners to
    /// read, but not watched (their events can come through `NotifyObjectCreated`).
    #[arg(
        long = "watch-root",
        env = "JOBTRACE_WATCH_ROOTS",
        value_delimiter = ','
    )]
    pub watch_roots: Vec<std::path::PathBuf>,
    /// SQLite only: `normal` (a commit survives a crash of the process) or `full` (it survives
    /// a power loss too).
    #[arg(long, env = "JOBTRACE_SYNC", value_enum, default_value_t = SyncMode::Normal)]
    pub sync: SyncMode,
    /// Directory holding the built site (pkg/jobtrace.js, .wasm, .css, static files).
    #[arg(long, env = "JOBTRACE_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

impl ServeConfig {
    /// The configured API tokens: `--api-token`s and the lines of `--api-token-file`.
    pub fn tokens(&self) -> std::io::Result<Vec<String>> {
        let mut tokens = self.api_tokens.clone();
        if let Some(path) = &self.api_token_file {
            let text = std::fs::read_to_string(path)?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn test_ages_read_with_their_units() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_age("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_age(" 45s "), Ok(Duration::from_secs(45)));
    }

    #[test]
    fn test_bad_ages_say_what_is_wrong() {
        for (text, says) in [
            ("30", "needs a unit"),
            ("d", "whole number"),
            ("-1d", "whole number"),
            ("3y", "unknown unit"),
            ("0d", "more than nothing"),
            ("99999999999999999w", "at most 100 years"),
        ] {
            let error = parse_age(text).err().unwrap_or_default();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
