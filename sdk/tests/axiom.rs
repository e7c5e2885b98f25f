//! The Axiom preset: a runner configured for Axiom sends its spans and logs to `/v1/traces` and
//! `/v1/logs` with the API key and each signal's dataset, checked against a local HTTP receiver.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, Server, eventually};
use jobtrace_workflows::{
    Client, ExecutionContext, OtlpEndpoint, Task, TaskError, TelemetryConfig,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body_len: usize,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Accepts HTTP/1.1 requests (keep-alive too), records them, answers 200 with an empty body.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0; 8192];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let mut request_line = lines.next().unwrap_or_default().split(' ');
                    let method = request_line.next().unwrap_or_default().to_owned();
                    let path = request_line.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buffer.len() < head_end + length {
                        let mut chunk = [0; 8192];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer.drain(..head_end + length);
                    record.lock().unwrap().push(Received {
                        method,
                        path,
                        headers,
                        body_len: length,
                    });
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[derive(Serialize, Deserialize)]
struct Hello {
    who: String,
}

impl Task for Hello {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        ctx.logger().info(&format!("hello {}", self.who));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axiom_preset_sends_paths_datasets_and_key() {
    let server = Server::start(Backend::Sqlite).await;
    let (axiom_url, seen) = receiver().await;
    let config = TelemetryConfig::default()
        .service_name("axiom-test")
        .console(false)
        .export_interval(Duration::from_millis(200))
        .export_to(OtlpEndpoint::axiom_at(
            &axiom_url,
            "xaat-secret",
            Some("workflow-spans"),
            Some("workflow-logs"),
        ));
    let client = Client::with_telemetry(&server.url, "", config).unwrap();
    client
        .jobs()
        .submit(
            "axiom",
            &Hello {
                who: "axiom".to_owned(),
            },
            "",
            0,
        )
        .await
        .unwrap();
    client
        .runner("")
        .register::<Hello>()
        .run_all()
        .await
        .unwrap();
    let requests = eventually(
        Duration::from_secs(30),
        "traces and logs at the receiver",
        || {
            let seen = seen.clone();
            async move {
                let requests = seen.lock().unwrap().clone();
                let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
                (paths.contains(&"/v1/traces") && paths.contains(&"/v1/logs")).then_some(requests)
            }
        },
    )
    .await;
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("authorization"), Some("Bearer xaat-secret"));
        assert_eq!(
            request.header("content-type"),
            Some("application/x-protobuf")
        );
        assert!(request.body_len > 0);
        let dataset = match request.path.as_str() {
            "/v1/traces" => "workflow-spans",
            "/v1/logs" => "workflow-logs",
            other => panic!("unexpected path {other}"),
        };
        assert_eq!(
            request.header("x-axiom-dataset"),
            Some(dataset),
            "{request:?}"
        );
    }
}
