//! The accept loop: each connection served over HTTP/1.1 or h2c with a deadline for request
//! headers (a client that sends half its headers is cut off instead of holding a connection
//! forever), the peer address handed to handlers, and a graceful drain on shutdown.
//!
//! `axum::serve` sets no timer, so hyper applies no header timeout; this is the same loop with
//! one.
//!
//! The listening socket is bound here, or passed in by a supervisor (systemd socket activation,
//! `LISTEN_FDS`): a passed socket outlives the process, so while the server restarts new
//! connections wait in its backlog instead of being refused.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Idle HTTP/2 connections are pinged this often, and dropped when a ping goes unanswered for
/// [`H2_PING_TIMEOUT`] (a peer that vanished without closing).
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// The socket the server accepts on.
#[derive(Debug)]
pub struct Listening {
    pub listener: TcpListener,
    /// Its address (for a passed socket, where the supervisor bound it).
    pub addr: SocketAddr,
    /// Passed in by a supervisor (`LISTEN_FDS`) rather than bound here.
    pub passed: bool,
}

/// The socket a supervisor passed (`LISTEN_FDS`, the systemd protocol: the first passed
/// descriptor, fd 3, must be a listening TCP socket), if it passed one.
///
/// Call it before any other thread exists: taking the socket clears `LISTEN_FDS`/`LISTEN_PID`
/// from the environment, which is only sound while one thread runs. `LISTEN_FDS` set for
/// another process (`LISTEN_PID` not ours) is an error rather than a silent fall-back to
/// `--addr`.
///
/// Why a passed socket matters: the unmodified Tilebox Python runner gives up on a refused
/// connection (it retries only `INTERNAL`/`UNKNOWN` answers), so a server restarted on a port it
/// binds itself ends every Python runner. A socket held by systemd stays open across the
/// restart; the runners' calls wait in its backlog and are answered by the next process.
pub fn passed_listener() -> std::io::Result<Option<std::net::TcpListener>> {
    let declared = std::env::var_os("LISTEN_FDS").is_some();
    let mut passed = listenfd::ListenFd::from_env();
    let invalid = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_owned());
    if passed.len() == 0 {
        return if declared {
            Err(invalid(
                "LISTEN_FDS is set but passes no socket to this process (LISTEN_PID names another)",
            ))
        } else {
            Ok(None)
        };
    }
    let listener = passed.take_tcp_listener(0)?.ok_or_else(|| {
        invalid("LISTEN_FDS is set but its first descriptor (fd 3) is not a TCP socket")
    })?;
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// `passed` ([`passed_listener`]), else `addr` bound here.
pub async fn listen(
    addr: SocketAddr,
    passed: Option<std::net::TcpListener>,
) -> std::io::Result<Listening> {
    let (listener, passed) = match passed {
        Some(listener) => (TcpListener::from_std(listener)?, true),
        None => (TcpListener::bind(addr).await?, false),
    };
    let addr = listener.local_addr()?;
    Ok(Listening {
        listener,
        addr,
        passed,
    })
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for the
/// connections open then to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    // Connections hold a receiver each; dropping `stop` tells them to close gracefully, and
    // `open.closed()` resolves when the last one has.
    let (stop, stopping) = watch::channel(());
    let (open, _) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let mut stopping = stopping.clone();
        let still_open = open.subscribe();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(H2_PING_INTERVAL)
                .keep_alive_timeout(H2_PING_TIMEOUT);
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            let mut connection = std::pin::pin!(connection);
            let mut draining = false;
            loop {
                tokio::select! {
                    served = connection.as_mut() => {
                        if let Err(error) = served {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stopping.changed(), if !draining => {
                        draining = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(still_open);
        });
    }
    drop(listener);
    drop(stop);
    open.closed().await;
}
