//! The Rust SDK against the real `jobtrace` binary: the Tracing page example, subtasks with
//! dependencies, retries and panics, logs, runner processes that are killed or stopped, a server
//! restart under a waiting runner, and telemetry export to extra endpoints.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use common::{Backend, Server, eventually, example_bin, spawn_runner};
use jobtrace_workflows::{
    Client, ExecutionContext, JobQuery, JobState, LogQuery, OtlpEndpoint, Span, StatusCode,
    SubtaskOptions, Task, TaskError, TaskIdentifier, TelemetryConfig,
};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(40);

fn client(server: &Server, service: &str) -> Client {
    let config = TelemetryConfig::default()
        .service_name(service)
        .console(false)
        .export_interval(Duration::from_millis(200));
    Client::with_telemetry(&server.url, "", config).unwrap()
}

/// Waits until at least `count` spans of the job arrived.
async fn spans_of(client: &Client, job: uuid::Uuid, count: usize) -> Vec<Span> {
    eventually(WAIT, &format!("{count} spans"), || async {
        let spans = client.jobs().query_spans(job, None).await.ok()?;
        (spans.len() >= count).then_some(spans.0)
    })
    .await
}

async fn process_scene_example_builds_the_tracing_page_tree(backend: Backend) {
    let server = Server::start(backend).await;
    let output = Command::new(example_bin("process_scene"))
        .args(["--url", &server.url, "--scene-id", "S2A_042"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let job_id: uuid::Uuid = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let client = client(&server, "test-reader");
    let job = client.jobs().get(job_id).await.unwrap();
    assert_eq!(
        (job.name.as_str(), job.state),
        ("process-scene", JobState::Completed)
    );
    let spans = spans_of(&client, job_id, 4).await;
    let by_name: HashMap<&str, &Span> = spans.iter().map(|s| (s.name.as_str(), s)).collect();
    let root = by_name["job/process-scene"];
    let task = by_name["task/ProcessScene"];
    let download = by_name["download-scene"];
    let compute = by_name["compute-index"];
    assert_eq!(root.parent_span_id, None);
    assert_eq!(task.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    assert_eq!(
        download.parent_span_id.as_deref(),
        Some(task.span_id.as_str())
    );
    assert_eq!(
        compute.parent_span_id.as_deref(),
        Some(task.span_id.as_str())
    );
    assert_eq!(download.attribute("scene_id"), Some("S2A_042"));
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
    assert_eq!(task.attribute("identifier.name"), Some("ProcessScene"));
    assert_eq!(task.attribute("identifier.version"), Some("v0.0"));
    assert_eq!(download.attribute("task_id"), task.attribute("task_id"));
    assert_eq!(
        task.runner_attributes["service.name"],
        serde_json::json!("process-scene-rust")
    );
    assert!(
        compute.start_time >= download.end_time,
        "the custom spans ran one after another"
    );
}

// --- tasks of the in-process tests -----------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct Survey {
    tiles: i64,
}

impl Task for Survey {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        ctx.progress("tiles").add(self.tiles as u64);
        let mut tiles = Vec::new();
        for index in 0..self.tiles {
            tiles.push(ctx.submit_subtask(&Tile { index })?);
        }
        let flaky = ctx.submit_subtask_with(
            &Flaky {},
            SubtaskOptions {
                max_retries: 1,
                ..SubtaskOptions::default()
            },
        )?;
        tiles.push(flaky);
        ctx.submit_subtask_with(
            &Mosaic { tiles: self.tiles },
            SubtaskOptions {
                depends_on: tiles,
                ..SubtaskOptions::default()
            },
        )?;
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct Tile {
    index: i64,
}

impl Task for Tile {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        let span = ctx.tracer().span("render-tile");
        span.set_attribute("tile", self.index);
        ctx.logger().info(&format!("tile {} rendered", self.index));
        tracing::warn!(tile = self.index, "tile via tracing");
        ctx.progress("tiles").done(1);
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }
}

/// Panics on its first attempt, succeeds on the retry.
#[derive(Serialize, Deserialize)]
struct Flaky {}

impl Task for Flaky {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        // What an attempt reports counts whether it fails or not (as in the Python client).
        ctx.progress("flaky").add(1).done(1);
        assert!(ctx.current_task().retry_count > 0, "first attempt fails");
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct Mosaic {
    tiles: i64,
}

impl Task for Mosaic {
    fn identifier() -> TaskIdentifier {
        TaskIdentifier::new("Mosaic", "v2.1")
    }

    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        ctx.logger().info(&format!("merging {} tiles", self.tiles));
        Ok(())
    }
}

async fn subtasks_dependencies_retries_and_logs(backend: Backend) {
    let server = Server::start(backend).await;
    let client = client(&server, "survey-runner");
    let job = client
        .jobs()
        .submit("survey", &Survey { tiles: 3 }, "", 0)
        .await
        .unwrap();
    let runner = client
        .runner("")
        .register::<Survey>()
        .register::<Tile>()
        .register::<Flaky>()
        .register::<Mosaic>();
    runner.run_all().await.unwrap();
    let job = client.jobs().get(job.id).await.unwrap();
    assert_eq!(job.state, JobState::Completed);

    // Progress as the tasks reported it, summed per label over tasks and attempts.
    let progress: Vec<(&str, u64, u64)> = job
        .progress
        .iter()
        .map(|p| (p.label.as_str(), p.total, p.done))
        .collect();
    assert_eq!(progress, [("flaky", 2, 2), ("tiles", 3, 3)]);

    // The job's diagram: every task a box, Mosaic's four dependencies four arrows.
    let svg = client.jobs().visualize(&job, "right").await.unwrap();
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    for name in ["Survey", "Tile", "Flaky", "Mosaic"] {
        assert!(svg.contains(&format!(">{name}</text>")), "{name}: {svg}");
    }
    assert_eq!(svg.matches("data-node=").count(), 6, "{svg}");
    assert_eq!(svg.matches(r#"class="graph__edge""#).count(), 4, "{svg}");

    // job + Survey + 3 × (Tile + render-tile) + 2 × Flaky + Mosaic
    let spans = spans_of(&client, job.id, 11).await;
    let root = spans.iter().find(|s| s.name == "job/survey").unwrap();
    let tasks: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.starts_with("task/"))
        .collect();
    assert!(
        tasks
            .iter()
            .all(|t| t.parent_span_id.as_deref() == Some(root.span_id.as_str())),
        "every attempt is a child of the job span"
    );
    let named =
        |name: &str| -> Vec<&Span> { tasks.iter().copied().filter(|s| s.name == name).collect() };
    assert_eq!(named("task/Tile").len(), 3);
    let mosaic = named("task/Mosaic");
    assert_eq!(mosaic[0].attribute("identifier.version"), Some("v2.1"));
    // Mosaic waited for every tile and for the flaky task's successful retry.
    let last_dependency_end = named("task/Tile")
        .iter()
        .chain(named("task/Flaky").iter())
        .map(|s| s.end_time)
        .max()
        .unwrap();
    assert!(mosaic[0].start_time >= last_dependency_end);

    let mut flaky = named("task/Flaky");
    flaky.sort_by_key(|s| s.start_time);
    assert_eq!(flaky.len(), 2, "two attempts");
    assert_eq!(flaky[0].status_code, StatusCode::Error);
    let exception = flaky[0]
        .events
        .iter()
        .find(|e| e.name == "exception")
        .unwrap();
    assert_eq!(exception.attributes["exception.type"], "panic");
    assert!(
        exception.attributes["exception.message"]
            .as_str()
            .unwrap()
            .contains("first attempt fails")
    );
    assert_eq!(flaky[1].status_code, StatusCode::Unset);
    assert_eq!(flaky[0].attribute("task_id"), flaky[1].attribute("task_id"));

    // Logs from the task logger and from `tracing`, each tied to its span and task.
    let tile = named("task/Tile")[0];
    let tile_task: uuid::Uuid = tile.attribute("task_id").unwrap().parse().unwrap();
    let logs = eventually(WAIT, "the tile's two log lines", || async {
        let query = LogQuery {
            task_id: Some(tile_task),
            ..LogQuery::default()
        };
        let logs = client.jobs().query_logs(job.id, &query).await.ok()?;
        (logs.len() >= 2).then_some(logs)
    })
    .await;
    let render = spans
        .iter()
        .find(|s| {
            s.name == "render-tile" && s.parent_span_id.as_deref() == Some(tile.span_id.as_str())
        })
        .unwrap();
    assert_eq!(render.attribute("task_id"), tile.attribute("task_id"));
    for log in &logs {
        assert_eq!(log.trace_id, root.trace_id);
        assert_eq!(
            log.span_id, render.span_id,
            "{}: logged inside render-tile",
            log.body
        );
    }
    let bodies: HashSet<&str> = logs.iter().map(|l| l.body.as_str()).collect();
    assert!(bodies.iter().any(|b| b.ends_with("rendered")), "{bodies:?}");
    assert!(bodies.contains("tile via tracing"), "{bodies:?}");
    let warn = logs.iter().find(|l| l.body == "tile via tracing").unwrap();
    assert_eq!(warn.severity_text, "WARN");
    assert_eq!(warn.runner_attributes["service.name"], "survey-runner");
}

// --- runner processes ------------------------------------------------------------------------

/// The attempts the server recorded for the job's only task.
fn attempts(server: &Server, job: uuid::Uuid) -> Vec<serde_json::Value> {
    let tasks = server.api(&format!("/api/v1/jobs/{job}/tasks"));
    tasks["tasks"][0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn submit_nap(server: &Server, seconds: f64) -> uuid::Uuid {
    let output = Command::new(common::interop_bin())
        .args([
            "--url",
            &server.url,
            "submit-nap",
            "--seconds",
            &seconds.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

async fn wait_running(server: &Server, job: uuid::Uuid) {
    eventually(WAIT, "the nap to start", || async {
        let tasks = server.api(&format!("/api/v1/jobs/{job}/tasks"));
        (tasks["tasks"][0]["state"] == "RUNNING").then_some(())
    })
    .await;
}

/// The attempts' outcomes once the last one is `computed`.
async fn wait_outcomes(server: &Server, job: uuid::Uuid) -> Vec<String> {
    eventually(WAIT, "the job to complete", || async {
        let attempts = attempts(server, job);
        let outcomes: Vec<String> = attempts
            .iter()
            .map(|a| a["outcome"].as_str().unwrap_or_default().to_owned())
            .collect();
        (outcomes.last().map(String::as_str) == Some("computed")).then_some(outcomes)
    })
    .await
}

async fn lease_is_extended_while_a_long_task_runs(backend: Backend) {
    let server = Server::start(backend).await;
    // Three times the server's 2 s lease, with a second runner waiting for anything that
    // comes free: only extensions keep the task with the first runner.
    let job = submit_nap(&server, 6.0);
    let mut first = spawn_runner(&server.url, "runner-a");
    wait_running(&server, job).await;
    let mut second = spawn_runner(&server.url, "runner-b");
    let outcomes = wait_outcomes(&server, job).await;
    for runner in [&mut first, &mut second] {
        runner.kill().unwrap();
        runner.wait().unwrap();
    }
    assert_eq!(
        outcomes,
        ["computed"],
        "one attempt, never handed to the waiting runner"
    );
}

async fn killed_runner_loses_its_task_to_another_runner(backend: Backend) {
    let server = Server::start(backend).await;
    let job = submit_nap(&server, 2.0);
    let mut first = spawn_runner(&server.url, "runner-a");
    wait_running(&server, job).await;
    first.kill().unwrap(); // SIGKILL: no goodbye, the lease (2 s) expires
    first.wait().unwrap();
    let mut second = spawn_runner(&server.url, "runner-b");
    let outcomes = wait_outcomes(&server, job).await;
    // The first attempt's lease expired; a stall of the test machine may add another expiry.
    assert_eq!(outcomes.first().map(String::as_str), Some("lease expired"));
    second.kill().unwrap();
    second.wait().unwrap();
    let client = client(&server, "test-reader");
    assert_eq!(
        client.jobs().get(job).await.unwrap().state,
        JobState::Completed
    );
}

/// Sends `signal` (`STOP`, `CONT`, …) to a runner process.
fn signal(runner: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &runner.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// The runner name an attempt was recorded under holds its process id (`host:pid:random`).
fn ran_in(attempt: &serde_json::Value, runner: &std::process::Child) -> bool {
    let name = attempt["runner"].as_str().unwrap_or_default();
    name.contains(&format!(":{}:", runner.id()))
}

async fn a_frozen_runner_that_wakes_cannot_finish_the_task_another_runner_took(backend: Backend) {
    let server = Server::start(backend).await;
    let nap = 5.0;
    let job = submit_nap(&server, nap);
    let mut first = spawn_runner(&server.url, "runner-a");
    wait_running(&server, job).await;
    // Frozen (a long GC pause, a suspended VM): its lease (2 s) expires and B takes over.
    signal(&first, "STOP");
    let mut second = spawn_runner(&server.url, "runner-b");
    eventually(WAIT, "the second runner to claim the task", || async {
        let attempts = attempts(&server, job);
        (attempts.len() == 2 && ran_in(&attempts[1], &second)).then_some(())
    })
    .await;
    // A wakes up: its nap is over, so it reports the task computed and extends its lease;
    // neither may count while B's attempt runs.
    signal(&first, "CONT");
    let outcomes = wait_outcomes(&server, job).await;
    for runner in [&mut first, &mut second] {
        runner.kill().unwrap();
        runner.wait().unwrap();
    }
    assert_eq!(outcomes, ["lease expired", "computed"]);
    let attempts = attempts(&server, job);
    assert!(ran_in(&attempts[0], &first), "{attempts:?}");
    assert!(ran_in(&attempts[1], &second), "{attempts:?}");
    let ran_ns =
        attempts[1]["stopped_ns"].as_i64().unwrap() - attempts[1]["started_ns"].as_i64().unwrap();
    assert!(
        ran_ns as f64 >= (nap - 0.5) * 1e9,
        "B's attempt ran its whole nap, not ended by A's stale report: {attempts:?}"
    );
    let client = client(&server, "test-reader");
    let done = client.jobs().get(job).await.unwrap();
    assert_eq!(done.state, JobState::Completed);
}

async fn stopped_runner_hands_its_task_back(backend: Backend) {
    let server = Server::start(backend).await;
    let job = submit_nap(&server, 30.0);
    let mut first = spawn_runner(&server.url, "runner-a");
    wait_running(&server, job).await;
    let signalled = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = first.wait().unwrap();
    assert!(exit.success(), "a stopped runner exits cleanly: {exit:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "it does not wait for its 30 s task"
    );
    let tasks = server.api(&format!("/api/v1/jobs/{job}/tasks"));
    let task = &tasks["tasks"][0];
    assert_eq!(
        task["state"], "QUEUED",
        "handed back right away, not after a lease expiry"
    );
    assert_eq!(task["retry_count"], 0, "no retry used");
    assert_eq!(task["attempts"][0]["outcome"], "released by its runner");
    assert!(
        task["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("RunnerShutdown")
    );
}

async fn runner_reconnects_after_server_restart(backend: Backend) {
    let mut server = Server::start(backend).await;
    let client = client(&server, "patient-runner");
    let runner = client.runner("").register::<Tile>();
    let stop = runner.stopper();
    let running = tokio::spawn(async move { runner.run_forever().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Down for two seconds while the runner waits for work.
    tokio::task::block_in_place(|| server.restart_after(Duration::from_secs(2)));
    let job = client
        .jobs()
        .submit("after-restart", &Tile { index: 7 }, "", 0)
        .await
        .unwrap();
    let done = client
        .jobs()
        .wait_until_finished(job.id, WAIT)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Completed, "{}", server.log());
    assert!(!running.is_finished(), "the runner survived the restart");
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
}

// --- telemetry export ------------------------------------------------------------------------

async fn extra_endpoint_receives_the_same_spans(backend: Backend) {
    let server = Server::start(backend).await;
    let backup = Server::start(Backend::Sqlite).await;
    let service = format!("mirrored-{}", uuid::Uuid::new_v4().simple());
    let config = TelemetryConfig::default()
        .service_name(service.clone())
        .console(false)
        .export_interval(Duration::from_millis(200))
        .export_to(OtlpEndpoint::collector(&backup.url));
    let client = Client::with_telemetry(&server.url, "", config).unwrap();
    let job = client
        .jobs()
        .submit("mirrored", &Tile { index: 1 }, "", 0)
        .await
        .unwrap();
    client
        .runner("")
        .register::<Tile>()
        .run_all()
        .await
        .unwrap();
    let here: HashSet<String> = spans_of(&client, job.id, 3)
        .await
        .into_iter()
        .map(|s| s.span_id)
        .collect();
    let there: HashSet<String> = eventually(WAIT, "the mirrored spans", || async {
        let page = backup.api(&format!("/api/v1/spans?service={service}"));
        let ids: HashSet<String> = page["spans"]
            .as_array()?
            .iter()
            .filter_map(|s| s["span_id"].as_str().map(str::to_owned))
            .collect();
        (ids.len() >= here.len()).then_some(ids)
    })
    .await;
    assert_eq!(here, there);
    let logs = backup.api(&format!("/api/v1/logs?service={service}"));
    assert!(
        logs["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["body"] == "tile 1 rendered"),
        "{logs}"
    );
}

/// Records the tick it ran for and its own input (`stamps`, shared by the test's runner).
#[derive(Serialize, Deserialize)]
struct Stamp {
    region: String,
}

static STAMPS: std::sync::Mutex<Vec<(String, Option<chrono::DateTime<chrono::Utc>>)>> =
    std::sync::Mutex::new(Vec::new());

impl Task for Stamp {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        STAMPS
            .lock()
            .unwrap()
            .push((self.region.clone(), ctx.trigger_time()));
        Ok(())
    }
}

async fn cron_automation_submits_its_task_on_each_tick(backend: Backend) {
    let server = Server::start(backend).await;
    let client = client(&server, "cron-runner");
    let automations = client.automations();
    let bad = automations
        .create_cron("bad", &Stamp { region: "x".into() }, "", &["61 * * * *"])
        .await;
    assert!(bad.is_err(), "a minute of 61 is refused");
    assert!(
        automations.all().await.unwrap().is_empty(),
        "nothing created"
    );

    let stamp = Stamp {
        region: "Austria".into(),
    };
    let every_second = automations
        .create_cron("stamp", &stamp, "", &["* * * * * *"])
        .await
        .unwrap();
    assert_eq!(every_second.identifier.name, "Stamp");
    assert_eq!(every_second.schedules[0].schedule, "* * * * * *");
    assert!(every_second.schedules[0].next_run.is_some());
    assert_eq!(
        automations.find(every_second.id).await.unwrap(),
        every_second
    );

    // Ticks come every second: wait for two jobs, then run them.
    let query = JobQuery {
        automations: vec![every_second.id],
        ..JobQuery::default()
    };
    let jobs = eventually(WAIT, "two ticks", || async {
        let jobs = client.jobs().query(&query).await.ok()?;
        (jobs.len() >= 2).then_some(jobs)
    })
    .await;
    assert!(jobs.iter().all(|j| j.automation == Some(every_second.id)));
    automations.delete(every_second.id, true).await.unwrap();
    assert!(automations.all().await.unwrap().is_empty());
    assert!(automations.find(every_second.id).await.is_err());
    client.jobs().query(&query).await.unwrap();

    // The jobs submitted before the delete stay; those not run yet were canceled, so run the
    // tick jobs of a second automation to see what a task is handed.
    let once = automations
        .create_cron("stamp-again", &stamp, "", &["* * * * * *"])
        .await
        .unwrap();
    let query = JobQuery {
        automations: vec![once.id],
        ..JobQuery::default()
    };
    eventually(WAIT, "a tick", || async {
        let jobs = client.jobs().query(&query).await.ok()?;
        (!jobs.is_empty()).then_some(())
    })
    .await;
    automations.delete(once.id, false).await.unwrap();
    client
        .runner("")
        .register::<Stamp>()
        .run_all()
        .await
        .unwrap();
    let stamps = STAMPS.lock().unwrap().clone();
    assert!(!stamps.is_empty(), "the tick's task ran");
    for (region, trigger) in &stamps {
        assert_eq!(region, "Austria", "the task's own input, unwrapped");
        let trigger = trigger.expect("the tick's time");
        assert_eq!(
            trigger.timestamp_subsec_nanos(),
            0,
            "a whole second: {trigger}"
        );
    }
    let ran = client.jobs().query(&query).await.unwrap();
    assert!(
        ran.iter().all(|j| j.state == JobState::Completed),
        "{ran:?}"
    );
}

/// Records the object it ran for (`ARRIVALS`, shared by the test's runner).
#[derive(Serialize, Deserialize)]
struct Arrival {
    tag: String,
}

static ARRIVALS: std::sync::Mutex<Vec<(String, Option<jobtrace_workflows::StorageEvent>)>> =
    std::sync::Mutex::new(Vec::new());

impl Task for Arrival {
    fn execute(&self, ctx: &mut ExecutionContext) -> Result<(), TaskError> {
        ARRIVALS
            .lock()
            .unwrap()
            .push((self.tag.clone(), ctx.storage_event().cloned()));
        Ok(())
    }
}

async fn storage_event_automation_runs_its_task_for_a_reported_object(backend: Backend) {
    use jobtrace_workflows::{StorageReference, StorageTrigger};
    let server = Server::start(backend).await;
    let client = client(&server, "storage-runner");
    let locations = client.storage_locations();
    // Both backends' tests share `ARRIVALS`: each finds its own by this.
    let tag = uuid::Uuid::now_v7().to_string();
    let relative = locations
        .create(
            "bad",
            StorageReference::Local {
                path: "not/absolute".into(),
            },
        )
        .await;
    assert!(relative.is_err(), "a relative local path is refused");
    let bucket = locations
        .create(
            "scenes",
            StorageReference::S3 {
                bucket: "scene-bucket".into(),
                region: "eu-central-1".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(locations.all().await.unwrap(), vec![bucket.clone()]);
    let trigger = StorageTrigger {
        location: bucket.id,
        glob: "raw/*.json".into(),
    };
    let automation = client
        .automations()
        .create_storage_event(
            "arrivals",
            &Arrival { tag: tag.clone() },
            "",
            std::slice::from_ref(&trigger),
        )
        .await
        .unwrap();
    assert_eq!(automation.storage_triggers, vec![trigger]);
    assert!(automation.schedules.is_empty());

    let subscription = locations.subscribe(bucket.id).await.unwrap();
    let now = chrono::Utc::now();
    for path in ["raw/a.json", "raw/a.json", "cooked/b.json"] {
        locations
            .notify_object_created(subscription, path, now)
            .await
            .unwrap();
    }
    let query = JobQuery {
        automations: vec![automation.id],
        ..JobQuery::default()
    };
    let jobs = client.jobs().query(&query).await.unwrap();
    assert_eq!(
        jobs.len(),
        1,
        "one matching object, reported twice: one job"
    );
    client
        .runner("")
        .register::<Arrival>()
        .run_all()
        .await
        .unwrap();
    let arrivals: Vec<_> = ARRIVALS
        .lock()
        .unwrap()
        .iter()
        .filter(|(of, _)| *of == tag)
        .map(|(_, event)| event.clone())
        .collect();
    let expected = jobtrace_workflows::StorageEvent {
        location: bucket.id,
        path: "raw/a.json".into(),
    };
    assert_eq!(arrivals, vec![Some(expected)]);
    assert!(locations.delete(bucket.id).await.is_err(), "in use");
    client
        .automations()
        .delete(automation.id, false)
        .await
        .unwrap();
    locations.delete(bucket.id).await.unwrap();
    assert!(locations.find(bucket.id).await.is_err());
}

both_backends!(
    process_scene_example_builds_the_tracing_page_tree,
    storage_event_automation_runs_its_task_for_a_reported_object,
    cron_automation_submits_its_task_on_each_tick,
    subtasks_dependencies_retries_and_logs,
    killed_runner_loses_its_task_to_another_runner,
    lease_is_extended_while_a_long_task_runs,
    a_frozen_runner_that_wakes_cannot_finish_the_task_another_runner_took,
    stopped_runner_hands_its_task_back,
    runner_reconnects_after_server_restart,
    extra_endpoint_receives_the_same_spans,
);
