"""The unmodified Tilebox Workflows client (`tilebox-workflows==0.66.0`) against jobtrace: jobs, runners,
retries, leases, cancellation, and the spans and logs the runners export, queried back with the client.

Runners run in subprocesses (run_runner.py, task classes from workflow_tasks.py) except in the Tracing
page example, which runs its runner in-process as the example does. The client exports spans and logs
with batch processors, so every telemetry assertion polls until the expected items arrived.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tilebox.workflows import Client
from tilebox.workflows.data import JobState

from workflow_tasks import (
    AlwaysFails,
    FanOut,
    FlakyTask,
    LogScene,
    NeedsMarker,
    RecordsException,
    SlowOnce,
    WriteMarker,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "examples" / "python"))
from process_scene import ProcessScene  # noqa: E402  (the Tracing page's task, verbatim)

EXPORT_INTERVAL = "0.5s"  # OTEL_EXPORT_INTERVAL for every client process (the default is 5 s)
TELEMETRY_TIMEOUT = 30  # seconds to wait for spans and logs to arrive
RUNNER_A = "00000000-0000-4000-8000-00000000000a"  # TILEBOX_RUNTIME_ID must be a UUID
RUNNER_B = "00000000-0000-4000-8000-00000000000b"
ERROR = "STATUS_CODE_ERROR"


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def client(server, monkeypatch) -> Client:
    """A client of the test's server whose exporters flush every 0.5 s."""
    monkeypatch.setenv("OTEL_EXPORT_INTERVAL", EXPORT_INTERVAL)
    return Client(url=server.url)


def trace_id_of(job) -> str:
    return job.trace_parent.split("-")[1]


def wait_for(what: str, fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = TELEMETRY_TIMEOUT):
    """Calls fetch() until done(value) holds; fails with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last value: {value!r}")
        time.sleep(0.25)


def wait_for_spans(client: Client, job, expected: dict[str, int]):
    """Polls query_spans until it returns at least `count` spans of every expected name."""

    def done(spans) -> bool:
        counts = Counter(span.name for span in spans)
        return all(counts[name] >= count for name, count in expected.items())

    return wait_for(f"spans {expected}", lambda: client.jobs().query_spans(job), done)


def wait_for_logs(client: Client, job, bodies: set[str]):
    """Polls query_logs until log records with every expected body arrived."""
    return wait_for(
        f"logs {bodies}", lambda: client.jobs().query_logs(job), lambda logs: bodies <= {log.body for log in logs}
    )


def named(spans, name: str) -> list:
    return sorted((span for span in spans if span.name == name), key=lambda span: span.start_time)


def one(spans, name: str):
    matching = named(spans, name)
    assert len(matching) == 1, f"expected one {name} span, got {matching}"
    return matching[0]


def exception_events(span) -> list[dict]:
    return [event for event in span.events if event["name"] == "exception"]


def assert_job_state(server, client: Client, job, expected: JobState) -> None:
    """The job's state, from the gRPC API and from the REST API."""
    state = client.jobs().find(job.id).state
    assert state == expected, f"job {job.id} is {state}, expected {expected}\n{server.log()[-4000:]}"
    assert server.api(f"/api/v1/jobs/{job.id}")["state"] == expected.name


def runner_env(runtime_id: str | None) -> dict[str, str]:
    env = dict(os.environ, OTEL_EXPORT_INTERVAL=EXPORT_INTERVAL, PYTHONUNBUFFERED="1")
    env.pop("TILEBOX_RUNTIME_ID", None)
    if runtime_id:
        env["TILEBOX_RUNTIME_ID"] = runtime_id
    return env


def stop_runner(process: subprocess.Popen) -> None:
    """SIGTERM (the runner shuts down gracefully and flushes its telemetry), then SIGKILL its process group
    (the runner's lease-renewer child and anything else it spawned)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextlib.contextmanager
def started_runner(
    server, tmp_path: Path, *tasks: str, runtime_id: str | None = None, forever: bool = True
) -> Iterator[subprocess.Popen]:
    """A runner subprocess (own session and process group) for the named workflow_tasks classes; yields
    once it is connected, and always stops it (and its children) on exit."""
    log_path = tmp_path / f"runner-{runtime_id or uuid.uuid4().hex[:8]}-{time.monotonic_ns()}.log"
    command = [sys.executable, str(HERE / "run_runner.py"), "--url", server.url, *tasks]
    if forever:
        command.append("--forever")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, env=runner_env(runtime_id), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(
            f"runner {runtime_id} to connect",
            lambda: (process.poll(), log_path.read_text()),
            lambda value: "runner ready" in value[1] or value[0] is not None,
        )
        assert "runner ready" in log_path.read_text(), f"runner failed to start:\n{log_path.read_text()}"
        process.log_path = log_path
        yield process
    finally:
        stop_runner(process)


def run_all(server, tmp_path: Path, *tasks: str, runtime_id: str | None = None) -> None:
    """Runs a runner subprocess with run_all(): it executes tasks until the queue is empty and exits."""
    with started_runner(server, tmp_path, *tasks, runtime_id=runtime_id, forever=False) as process:
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        output = process.log_path.read_text()
    assert code == 0, f"runner exited with {code}:\n{output}\n--- server.log ---\n{server.log()[-4000:]}"


# --- tests -----------------------------------------------------------------------------------------


def test_tracing_page_example(server, client):
    """The Tracing page example: job, task and custom spans come back from query_spans, as a DataFrame too."""
    job = client.jobs().submit("process-scene", ProcessScene(scene_id="S2A_001"))
    client.runner(tasks=[ProcessScene]).run_all()

    expected = {"job/process-scene": 1, "task/ProcessScene": 1, "download-scene": 1, "compute-index": 1}
    spans = wait_for_spans(client, job, expected)
    assert Counter(span.name for span in spans) == expected
    assert {span.trace_id for span in spans} == {trace_id_of(job)}

    job_span = one(spans, "job/process-scene")
    task_span = one(spans, "task/ProcessScene")
    download = one(spans, "download-scene")
    compute = one(spans, "compute-index")
    assert job_span.parent_span_id is None
    assert task_span.parent_span_id == job_span.span_id
    assert task_span.attributes["identifier.name"] == "ProcessScene"
    task_id = task_span.attributes["task_id"]
    assert download.parent_span_id == task_span.span_id
    assert compute.parent_span_id == task_span.span_id
    assert download.attributes["scene_id"] == "S2A_001"
    assert download.attributes["task_id"] == task_id
    assert compute.attributes["task_id"] == task_id
    assert all(span.status_code != ERROR for span in spans)
    assert download.runner_attributes["service.instance.id"] == task_span.runner_attributes["service.instance.id"]

    df = spans.to_pandas()
    assert list(df.columns) == [
        "start_time", "end_time", "trace_id", "span_id", "parent_span_id", "name", "status_code",
        "status_message", "attributes", "runner_attributes", "events", "duration",
    ]  # fmt: skip
    assert len(df) == 4

    assert_job_state(server, client, job, JobState.COMPLETED)
    assert client.jobs().find(job.id).name == "process-scene"


def test_failed_attempt_is_retried_in_its_own_span(server, client, tmp_path):
    """A task failing once with max_retries=1: an ERROR span with the exception, then a second span for the retry."""
    job = client.jobs().submit("flaky", FlakyTask(marker=str(tmp_path / "attempted")), max_retries=1)
    run_all(server, tmp_path, "FlakyTask")
    assert_job_state(server, client, job, JobState.COMPLETED)

    spans = wait_for_spans(client, job, {"job/flaky": 1, "task/FlakyTask": 2})
    failed, retried = named(spans, "task/FlakyTask")
    assert failed.status_code == ERROR
    assert failed.status_message == "Task failed with exception"
    [exception] = exception_events(failed)
    assert exception["attributes"]["exception.type"] == "ValueError"
    assert "boom" in exception["attributes"]["exception.message"]
    assert "Traceback" in exception["attributes"]["exception.stacktrace"]
    assert 'raise ValueError("boom")' in exception["attributes"]["exception.stacktrace"]

    assert retried.span_id != failed.span_id
    assert retried.attributes["task_id"] == failed.attributes["task_id"]
    assert retried.status_code != ERROR
    assert exception_events(retried) == []
    assert retried.start_time >= failed.end_time


def test_task_without_retries_fails_the_job(server, client, tmp_path):
    """A task that always fails, with max_retries=0: one ERROR task span and a FAILED job."""
    job = client.jobs().submit("always-fails", AlwaysFails(reason="sensor offline"), max_retries=0)
    run_all(server, tmp_path, "AlwaysFails")
    assert_job_state(server, client, job, JobState.FAILED)

    spans = wait_for_spans(client, job, {"job/always-fails": 1, "task/AlwaysFails": 1})
    task_span = one(spans, "task/AlwaysFails")
    assert task_span.status_code == ERROR
    [exception] = exception_events(task_span)
    assert exception["attributes"]["exception.message"] == "sensor offline"


def test_record_exception_on_custom_span(server, client, tmp_path):
    """An error caught and recorded on a custom span: only that span has the exception event; the task succeeds."""
    job = client.jobs().submit("record-exception", RecordsException(pixel=42))
    run_all(server, tmp_path, "RecordsException")
    assert_job_state(server, client, job, JobState.COMPLETED)

    expected = {"job/record-exception": 1, "task/RecordsException": 1, "validate-pixels": 1, "write-output": 1}
    spans = wait_for_spans(client, job, expected)
    task_span = one(spans, "task/RecordsException")
    validate = one(spans, "validate-pixels")
    assert validate.parent_span_id == task_span.span_id
    assert validate.attributes == {"task_id": task_span.attributes["task_id"], "pixel": 42}
    [exception] = exception_events(validate)
    assert exception["attributes"]["exception.type"] == "ValueError"
    assert exception["attributes"]["exception.message"] == "bad pixel 42"
    assert "Traceback" in exception["attributes"]["exception.stacktrace"]
    assert isinstance(exception["time"], type(validate.start_time))
    assert validate.start_time <= exception["time"] <= validate.end_time

    assert task_span.status_code != ERROR
    assert exception_events(task_span) == []
    assert exception_events(one(spans, "write-output")) == []


def test_task_logs_by_span_task_and_level(server, client, tmp_path):
    """context.logger lines come back from query_logs with their span and trace, filtered by task and level."""
    job = client.jobs().submit("log-scene", LogScene(tile=7))
    run_all(server, tmp_path, "LogScene", "LogTile")
    assert_job_state(server, client, job, JobState.COMPLETED)

    spans = wait_for_spans(client, job, {"task/LogScene": 1, "task/LogTile": 1, "process-tile": 1})
    scene_span = one(spans, "task/LogScene")
    tile_span = one(spans, "task/LogTile")
    process_tile = one(spans, "process-tile")
    scene_task_id = scene_span.attributes["task_id"]
    tile_task_id = tile_span.attributes["task_id"]

    logs = wait_for_logs(client, job, {"scene started", "processing tile", "cloud cover high"})
    trace_id = trace_id_of(job)
    assert {log.trace_id for log in logs} == {trace_id}
    by_body = {log.body: log for log in logs}
    assert len(by_body) == len(logs) == 3

    info, warning, scene = by_body["processing tile"], by_body["cloud cover high"], by_body["scene started"]
    assert info.span_id == warning.span_id == process_tile.span_id
    assert scene.span_id == scene_span.span_id
    assert (info.severity_text, info.severity_number) == ("INFO", 9)
    assert (warning.severity_text, warning.severity_number) == ("WARN", 13)
    assert info.attributes["task_id"] == warning.attributes["task_id"] == tile_task_id
    assert scene.attributes["task_id"] == scene_task_id
    assert info.attributes["tile"] == 7
    assert warning.attributes["cloud_cover"] == 0.9
    instance = tile_span.runner_attributes["service.instance.id"]
    assert info.runner_attributes["service.instance.id"] == instance

    def bodies(**filters) -> set[str]:
        return {log.body for log in client.jobs().query_logs(job, **filters)}

    assert bodies(task_id=tile_task_id) == {"processing tile", "cloud cover high"}
    assert bodies(task_id=scene_task_id) == {"scene started"}
    assert bodies(level="warning") == {"cloud cover high"}
    assert bodies(level="info") == {"scene started", "processing tile"}
    assert bodies(level="error") == set()
    assert bodies(task_id=tile_task_id, level=["info", "warning"]) == {"processing tile", "cloud cover high"}
    assert bodies(task_id=scene_task_id, level="warning") == set()

    # The same lines as span events, and through the REST API.
    log_events = [event["attributes"]["body"] for event in process_tile.events if event["name"] == "log.message"]
    assert log_events == ["processing tile", "cloud cover high"]
    rest_logs = server.api(f"/api/v1/jobs/{job.id}/logs")["logs"]
    assert sorted(log["body"] for log in rest_logs) == sorted(by_body)


def test_fan_out_over_two_runners(server, client, tmp_path):
    """Six subtasks and a final task depending on all of them, run by two runner processes: one trace."""
    count = 6
    with (
        started_runner(server, tmp_path, "FanOut", "Sleep", "Collect", runtime_id=RUNNER_A),
        started_runner(server, tmp_path, "FanOut", "Sleep", "Collect", runtime_id=RUNNER_B),
    ):
        job = client.jobs().submit("fan-out", FanOut(count=count, seconds=0.5))
        wait_for("job to complete", lambda: client.jobs().find(job.id).state, lambda state: state == JobState.COMPLETED)
        expected = {"job/fan-out": 1, "task/FanOut": 1, "task/Sleep": count, "task/Collect": 1}
        spans = wait_for_spans(client, job, expected)
    assert_job_state(server, client, job, JobState.COMPLETED)

    assert Counter(span.name for span in spans) == expected
    assert {span.trace_id for span in spans} == {trace_id_of(job)}
    job_span = one(spans, "job/fan-out")
    task_spans = [span for span in spans if span.name.startswith("task/")]
    assert all(span.parent_span_id == job_span.span_id for span in task_spans)
    assert len({span.attributes["task_id"] for span in task_spans}) == count + 2

    collect = one(spans, "task/Collect")
    sleeps = named(spans, "task/Sleep")
    assert collect.start_time >= max(span.end_time for span in sleeps)
    assert min(span.start_time for span in sleeps) >= one(spans, "task/FanOut").end_time
    assert {span.runner_attributes["service.instance.id"] for span in task_spans} == {RUNNER_A, RUNNER_B}


def test_killed_runner_task_is_rerun_after_lease_expiry(server, client, tmp_path):
    """Runner A is SIGKILLed mid-task; once the 3 s lease expires, runner B runs the task and the job completes."""
    started = tmp_path / "started"
    job = client.jobs().submit("slow", SlowOnce(started=str(started)))

    with started_runner(server, tmp_path, "SlowOnce", runtime_id=RUNNER_A) as runner_a:
        wait_for("runner A to start the task", started.exists, bool)
        os.killpg(runner_a.pid, signal.SIGKILL)  # the runner and its lease-renewer process
        runner_a.wait(timeout=10)
    assert client.jobs().find(job.id).state == JobState.RUNNING

    killed_at = time.monotonic()
    with started_runner(server, tmp_path, "SlowOnce", runtime_id=RUNNER_B):
        wait_for("job to complete", lambda: client.jobs().find(job.id).state, lambda state: state == JobState.COMPLETED)
        assert time.monotonic() - killed_at < 30
        spans = wait_for_spans(client, job, {"job/slow": 1, "task/SlowOnce": 1})
    assert_job_state(server, client, job, JobState.COMPLETED)

    # A's span was still open when A was killed, so it was never exported: the only task span is B's.
    task_span = one(spans, "task/SlowOnce")
    assert task_span.runner_attributes["service.instance.id"] == RUNNER_B
    assert task_span.status_code != ERROR
    assert task_span.parent_span_id == one(spans, "job/slow").span_id


def test_retry_failed_job(server, client, tmp_path):
    """A FAILED job retried after its failure cause is gone: the task runs again and the job completes."""
    marker = tmp_path / "ready"
    job = client.jobs().submit("needs-marker", NeedsMarker(marker=str(marker)))
    run_all(server, tmp_path, "NeedsMarker")
    assert_job_state(server, client, job, JobState.FAILED)

    marker.write_text("ok")
    assert client.jobs().retry(job) == 1
    run_all(server, tmp_path, "NeedsMarker")
    assert_job_state(server, client, job, JobState.COMPLETED)

    spans = wait_for_spans(client, job, {"job/needs-marker": 1, "task/NeedsMarker": 2, "retry_job": 1})
    failed, retried = named(spans, "task/NeedsMarker")
    assert failed.status_code == ERROR
    assert exception_events(failed)[0]["attributes"]["exception.type"] == "RuntimeError"
    assert retried.status_code != ERROR
    assert retried.attributes["task_id"] == failed.attributes["task_id"]

    retry_span = one(spans, "retry_job")
    assert retry_span.trace_id == trace_id_of(job)
    assert retry_span.parent_span_id == one(spans, "job/needs-marker").span_id
    [event] = [event for event in retry_span.events if event["name"] == "retried_succeeded"]
    assert event["attributes"]["num_tasks_rescheduled"] == 1


def test_canceled_job_is_not_executed(server, client, tmp_path):
    """A job canceled before any runner ran: its task never executes and the job is CANCELED."""
    marker = tmp_path / "executed"
    job = client.jobs().submit("cancel-me", WriteMarker(marker=str(marker)))
    client.jobs().cancel(job)
    run_all(server, tmp_path, "WriteMarker")

    assert not marker.exists()
    assert_job_state(server, client, job, JobState.CANCELED)

    spans = wait_for_spans(client, job, {"job/cancel-me": 1, "cancel_job": 1})
    assert named(spans, "task/WriteMarker") == []
    cancel_span = one(spans, "cancel_job")
    assert cancel_span.parent_span_id == one(spans, "job/cancel-me").span_id
    assert [event["name"] for event in cancel_span.events] == ["cancel_succeeded"]


def test_clusters_are_created_renamed_and_deleted(server, client):
    """The clusters API end to end: create (slug from the name), update (name and description; the slug
    stays), find, list, delete; an unknown cluster is a NotFoundError."""
    from _tilebox.grpc.error import NotFoundError

    clusters = client.clusters()
    created = clusters.create("Render Farm")
    assert (created.slug, created.display_name) == ("render-farm", "Render Farm")
    renamed = clusters.update(created, name="Render farm (GPU)", description="eight cards")
    assert (renamed.slug, renamed.display_name, renamed.description) == ("render-farm", "Render farm (GPU)", "eight cards")
    assert clusters.find("render-farm").display_name == "Render farm (GPU)"
    assert "render-farm" in {cluster.slug for cluster in clusters.all()}
    with pytest.raises(NotFoundError):
        clusters.update("no-such-cluster", name="x")
    clusters.delete(created)
    with pytest.raises(NotFoundError):
        clusters.find("render-farm")
