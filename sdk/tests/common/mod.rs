//! Test helpers: the real `jobtrace` binary on a fresh SQLite file or PostgreSQL database,
//! restartable on the same port; the `interop` example as a separate runner process; a tiny
//! HTTP client.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `target/<profile>/` of the test binary (`target/<profile>/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

pub fn jobtrace_bin() -> PathBuf {
    std::env::var_os("JOBTRACE_BIN").map_or_else(|| target_dir().join("jobtrace"), PathBuf::from)
}

/// The `interop` example, built by `cargo test` with the tests.
pub fn interop_bin() -> PathBuf {
    target_dir().join("examples").join("interop")
}

pub fn example_bin(name: &str) -> PathBuf {
    target_dir().join("examples").join(name)
}

fn pg_admin_url() -> String {
    std::env::var("JOBTRACE_TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A running `jobtrace serve`, killed (and its database dropped) on drop.
pub struct Server {
    pub url: String,
    pub addr: String,
    database_url: String,
    pg_database: Option<String>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (
                format!("sqlite:{}", dir.path().join("jobtrace.db").display()),
                None,
            ),
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!("jobtrace_sdk_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let (base, _) = admin.rsplit_once('/').unwrap();
                (format!("{base}/{name}"), Some(name))
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut server = Server {
            url: format!("http://{addr}"),
            addr,
            database_url,
            pg_database,
            child: None,
            log: dir.path().join("server.log"),
            _dir: dir,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(jobtrace_bin())
            .args([
                "serve",
                "--addr",
                &self.addr,
                "--database-url",
                &self.database_url,
            ])
            // Short leases: a killed runner's task is back in the queue within seconds.
            .args(["--task-lease-secs", "2", "--runner-idle-ms", "200"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", jobtrace_bin().display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(&format!("{}/healthz", self.url)).map(|(s, _)| s) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "jobtrace did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (as a crash would) and starts it again on the same port and database.
    pub fn restart_after(&mut self, down_for: Duration) {
        self.kill();
        std::thread::sleep(down_for);
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET a REST path, parsed as JSON.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let (status, body) = http_get(&format!("{}{path}", self.url)).unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(name) = self.pg_database.take() {
            // Best effort on a fresh thread: Drop may run inside the test's runtime.
            let admin = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(&drop).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A plain HTTP/1.1 GET (`Connection: close`): status and body, `None` if nothing answers.
pub fn http_get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A runner process (the `interop` example) against `url`.
pub fn spawn_runner(url: &str, service: &str) -> Child {
    Command::new(interop_bin())
        .args(["--url", url, "--service", service, "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", interop_bin().display()))
}

/// Polls `check` every 100 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )*
        }
    };
}
