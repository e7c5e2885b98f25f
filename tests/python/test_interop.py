"""Python and Rust in one job: the unmodified Tilebox client and the Rust SDK (sdk/, runner process
sdk/examples/interop.rs) share a cluster; each side's tasks submit subtasks the other side runs, and
the job's one trace holds the spans of both services."""

import os
import subprocess
from pathlib import Path

import pytest
from tilebox.workflows.data import JobState

from test_workflows import client, named, started_runner, wait_for, wait_for_spans  # noqa: F401 (fixture)
from workflow_tasks import PyFanOut

ROOT = Path(__file__).resolve().parent.parent.parent
INTEROP = Path(os.environ.get("JOBTRACE_INTEROP_BIN", ROOT / "target/release/examples/interop"))


@pytest.fixture
def rust_runner(server, tmp_path):
    """The Rust runner process (RustLeaf, RustFanOut, Nap) until the test ends."""
    log_path = tmp_path / "rust-runner.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(INTEROP), "--url", server.url, "--service", "interop-rust", "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    print(log_path.read_text())


def services(spans) -> set[str]:
    return {span.runner_attributes.get("service.name") for span in spans}


def wait_completed(client, job):
    return wait_for(f"job {job.id} to complete", lambda: client.jobs().find(job.id), lambda j: j.state == JobState.COMPLETED, timeout=60)


def test_python_job_with_rust_subtasks(server, client, tmp_path, rust_runner):
    job = client.jobs().submit("interop-python-fan-out", PyFanOut(count=3))
    with started_runner(server, tmp_path, "PyFanOut", "PyLeaf"):
        wait_completed(client, job)
    spans = wait_for_spans(
        client, job, {"task/PyFanOut": 1, "task/RustLeaf": 3, "rust-work": 3, "task/PyLeaf": 1, "py-work": 1}
    )
    assert len({span.trace_id for span in spans}) == 1, "one trace"
    root = named(spans, "job/interop-python-fan-out")[0]
    rust_tasks = named(spans, "task/RustLeaf")
    assert all(span.parent_span_id == root.span_id for span in rust_tasks)
    assert {span.runner_attributes["service.name"] for span in rust_tasks} == {"interop-rust"}
    # The Rust runner decoded the inputs the Python client encoded.
    assert sorted(span.attributes["index"] for span in named(spans, "rust-work")) == [0, 1, 2]
    # The Python PyLeaf waited for the three Rust leaves.
    (join,) = named(spans, "task/PyLeaf")
    assert join.start_time >= max(span.end_time for span in rust_tasks)
    assert {"interop-rust", "tilebox-python"} <= services(spans)


def test_rust_job_with_python_subtasks(server, client, tmp_path, rust_runner):
    submitted = subprocess.run(
        [str(INTEROP), "--url", server.url, "submit-fan-out", "--count", "2"],
        capture_output=True, text=True, check=True,
    )
    job = client.jobs().find(submitted.stdout.strip())
    with started_runner(server, tmp_path, "PyLeaf"):
        wait_completed(client, job)
    spans = wait_for_spans(client, job, {"task/RustFanOut": 1, "task/PyLeaf": 2, "py-work": 2, "task/RustLeaf": 1})
    assert len({span.trace_id for span in spans}) == 1, "one trace"
    root = named(spans, "job/interop-rust-fan-out")[0]
    py_tasks = named(spans, "task/PyLeaf")
    assert all(span.parent_span_id == root.span_id for span in py_tasks)
    assert sorted(span.attributes["index"] for span in named(spans, "py-work")) == [0, 1]
    (join,) = named(spans, "task/RustLeaf")
    assert join.start_time >= max(span.end_time for span in py_tasks)
    assert {"interop-rust", "tilebox-python"} <= services(spans)
    logs = wait_for(
        "logs of both languages",
        lambda: client.jobs().query_logs(job),
        lambda logs: {"python leaf 0 done", "rust leaf -1 done"} <= {log.body for log in logs},
    )
    assert logs
