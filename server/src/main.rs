//! The `jobtrace` binary.

use std::io::Write as _;

use anyhow::Context;
use clap::Parser;
use jobtrace::config::{BackupArgs, Cli, Command, LogFormat, PruneArgs, ServeConfig};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Before the runtime starts any thread (see `serve::passed_listener`).
    let passed = match &cli.command {
        Command::Serve(_) => {
            jobtrace::serve::passed_listener().context("taking the socket passed in LISTEN_FDS")?
        }
        Command::Prune(_) | Command::Backup(_) => None,
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(cli, passed))
}

async fn run(cli: Cli, passed: Option<std::net::TcpListener>) -> anyhow::Result<()> {
    // Logs go to stderr: `prune` and `backup` print their result on stdout.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        );
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match cli.command {
        Command::Serve(config) => serve(config, passed).await,
        Command::Prune(args) => prune(args).await,
        Command::Backup(args) => backup(args).await,
    }
}

async fn prune(args: PruneArgs) -> anyhow::Result<()> {
    jobtrace::store::must_exist(&args.database_url)?;
    let store = jobtrace::store::open(&args.database_url)
        .await
        .with_context(|| format!("opening the store at {}", args.database_url))?;
    let cutoff = jobtrace::retention::cutoff(args.older_than);
    let pruned =
        jobtrace::retention::prune_until(store.as_ref(), cutoff, jobtrace::retention::PRUNE_BATCH)
            .await
            .context("pruning")?;
    writeln!(
        std::io::stdout(),
        "pruned {} jobs ({} rows) that ended before {}",
        pruned.jobs,
        pruned.rows,
        chrono::DateTime::from_timestamp_nanos(cutoff).to_rfc3339()
    )?;
    Ok(())
}

async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let bytes = jobtrace::store::backup(&args.database_url, &args.path)
        .await
        .with_context(|| {
            format!(
                "backing up {} to {}",
                args.database_url,
                args.path.display()
            )
        })?;
    writeln!(
        std::io::stdout(),
        "backed up {} to {} ({bytes} bytes)",
        args.database_url,
        args.path.display()
    )?;
    Ok(())
}

async fn serve(
    mut config: ServeConfig,
    passed: Option<std::net::TcpListener>,
) -> anyhow::Result<()> {
    // The socket first: a passed one decides the address the loopback rule checks.
    let listening = jobtrace::serve::listen(config.addr, passed)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    if listening.passed {
        tracing::info!(
            addr = %listening.addr,
            "serving the socket passed in LISTEN_FDS (--addr is not used)"
        );
    }
    config.addr = listening.addr;
    let state = jobtrace::build_state(&config).await?;
    if state.auth.is_some() {
        tracing::info!("API tokens configured: clients and the dashboard must authenticate");
    } else if config.insecure_public {
        tracing::warn!(
            addr = %config.addr,
            "no API token and --insecure-public: anyone who reaches this port can use it"
        );
    } else {
        tracing::warn!(
            addr = %config.addr,
            "no API token: listening on a loopback address only (give --api-token to serve others)"
        );
    }
    if config.demo {
        let loaded = jobtrace::demo::load_if_empty(&state.store)
            .await
            .context("loading demo jobs")?;
        if loaded > 0 {
            tracing::info!(jobs = loaded, "loaded demo jobs");
        }
    }
    if let Some(keep) = config.retention {
        tracing::info!(
            keep_secs = keep.as_secs(),
            "retention: jobs are deleted this long after they end"
        );
        jobtrace::retention::spawn(state.store.clone(), keep);
    }
    // Cron automations: every replica looks for due triggers; each fires once (the store).
    jobtrace::automations::spawn(state.store.clone());
    // Storage-event automations: local folders under a --watch-root listed every second; a
    // new file fires each matching trigger once (the store).
    jobtrace::storage_watch::spawn(
        state.store.clone(),
        config.watch_roots.clone(),
        config.retention,
    );
    // The job list's state counts: PostgreSQL's deltas folded every second.
    jobtrace::job_counts::spawn(state.store.clone());
    // Task analytics: ended attempts counted into per-day histograms, each once.
    jobtrace::task_stats::spawn(state.store.clone());
    tracing::info!(addr = %config.addr, backend = state.store.backend(), "jobtrace is serving");
    let draining = std::sync::Arc::clone(&state.draining);
    let app = jobtrace::router::router(state);
    let header_read_timeout =
        std::time::Duration::from_secs(config.header_read_timeout_secs.max(1));
    // On SIGTERM/SIGINT: stop accepting, let requests in flight finish (their writes are
    // acknowledged only after commit), and exit after the grace period even if some never do (a
    // stalled upload, an open live stream): what they had not been told is stored is not lost
    // to them, their clients retry.
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown_signal().await;
        tracing::info!(
            "shutting down: no new connections or task claims, finishing requests in flight"
        );
        draining.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = stopping.send(true);
    };
    // The peer address reaches handlers as `ConnectInfo` (a Python runner's identity).
    let server = jobtrace::serve::serve(listening.listener, app, header_read_timeout, signal);
    let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);
    let deadline = async move {
        let _ = stopped.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => Ok(()),
        () = deadline => {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still open after the shutdown grace period: exiting without them"
            );
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
