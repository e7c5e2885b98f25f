//! Stopping a runner: SIGTERM/SIGINT (or its stopper) end claiming; a running task goes back.

use std::time::Duration;

use tokio::sync::watch;

/// Sleeps; returns early with `true` when asked to stop.
pub(super) async fn sleep_or_stop(duration: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => *stop.borrow(),
        () = wait_stop(stop) => true,
    }
}

pub(super) async fn wait_stop(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stopped| *stopped).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// SIGTERM/SIGINT set the stop flag once; a second signal is the process default (exit).
pub(super) fn spawn_signal_watch(stop: watch::Sender<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            for signals in 0.. {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                if signals > 0 {
                    // Tokio's handler replaced the default one: a second signal exits here.
                    std::process::exit(130);
                }
                tracing::info!("stopping: no new tasks, a running task goes back to the queue");
                let _ = stop.send(true);
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
        }
    })
}
