"""Two `jobtrace serve` replicas on one PostgreSQL database behave as one server: they start
together on an empty database (the migrations run once), a job submitted through one is run by a
runner connected to the other, and a span sent to one shows on the other's live stream within a
second (each replica polls the database once per watched job, whatever the number of pages
open: docs/DEPLOY.md), a cron automation fires once per tick though both look for it, and a new
file in a folder both watch fires its storage-event automation once."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from tilebox.workflows import Client
from tilebox.workflows.data import JobState

from conftest import BIN, PG_ADMIN_URL, Server, free_port, psql, stop, wait_until_healthy
from tilebox.workflows.storage_locations import LocalReference
from tilebox.workflows.storage_locations.service import StorageLocationService
from tilebox.datasets.query.pagination import Pagination
from workflow_tasks import FanOut, RecordArrival, StampTrigger

HERE = Path(__file__).resolve().parent


def start_replica(tmp_path: Path, name: str, database_url: str, *extra: str) -> tuple[Server, subprocess.Popen]:
    port = free_port()
    log_path = str(tmp_path / f"{name}.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [BIN, "serve", "--addr", f"127.0.0.1:{port}", "--database-url", database_url,
             "--task-lease-secs", "3", "--runner-idle-ms", "200", *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=HERE.parent.parent,
        )
    return Server(f"http://127.0.0.1:{port}", process, log_path), process


def span_request(trace_id: str, span_id: str, name: str) -> dict:
    start = time.time_ns() - 1_000_000_000
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        # Under a root that has not arrived: the job is still running.
        "parentSpanId": "00000000000000a0",
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 100_000_000),
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "replica-test"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}


def test_two_replicas_on_one_postgres_behave_as_one(tmp_path):
    database = f"jobtrace_py_{uuid.uuid4().hex}"
    psql(f"CREATE DATABASE {database}")
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database
    # Started at the same moment on the empty database: both migrate, one waits for the other.
    (a, a_process), (b, b_process) = (
        start_replica(tmp_path, "a", database_url),
        start_replica(tmp_path, "b", database_url),
    )
    try:
        wait_until_healthy(a.url, a_process, a.log)
        wait_until_healthy(b.url, b_process, b.log)

        # Submitted through A, run by a runner connected to B.
        job = Client(url=a.url).jobs().submit("replicas", FanOut(count=3, seconds=0.05))
        env = {**os.environ, "OTEL_EXPORT_INTERVAL": "0.5s", "TILEBOX_RUNTIME_ID": str(uuid.uuid4())}
        runner = subprocess.run(
            [sys.executable, str(HERE / "run_runner.py"), "--url", b.url, "FanOut", "Sleep", "Collect"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert runner.returncode == 0, runner.stderr[-2000:]
        assert Client(url=a.url).jobs().find(job.id).state == JobState.COMPLETED
        tasks = requests.get(f"{a.url}/api/v1/jobs/{job.id}/tasks", timeout=10).json()["tasks"]
        assert len(tasks) == 5 and all(t["state"] == "COMPUTED" for t in tasks)

        # A running job (its root has not arrived) watched live on A; its next span arrives at B.
        trace_id = uuid.uuid4().hex
        first_span = span_request(trace_id, "00000000000000b1", "first-span")
        assert requests.post(f"{a.url}/v1/traces", json=first_span, timeout=10).status_code == 200
        job_id = requests.get(f"{a.url}/api/v1/jobs/{trace_id}", timeout=10).json()["id"]
        stream = requests.get(f"{a.url}/api/v1/jobs/{job_id}/events", stream=True, timeout=10)
        assert stream.status_code == 200
        events = (json.loads(line[5:]) for line in stream.iter_lines(decode_unicode=True) if line.startswith("data:"))
        assert next(events)["span_count"] == 1
        sent = time.monotonic()
        late_span = span_request(trace_id, "00000000000000b2", "late-span")
        assert requests.post(f"{b.url}/v1/traces", json=late_span, timeout=10).status_code == 200
        changed = next(events)
        took = time.monotonic() - sent
        stream.close()
        assert changed["span_count"] == 2
        assert took < 1.0, f"A's live stream saw B's span after {took:.2f} s"

        # A cron automation created through A: both replicas look for due triggers every second,
        # each tick submits one job (its runner, on B, stamps each trigger time once).
        folder = tmp_path / "stamps"
        folder.mkdir()
        automation = Client(url=a.url).automations().create_cron_automation(
            "every-second", StampTrigger(folder=str(folder)), "* * * * * *"
        )
        time.sleep(4.2)
        Client(url=b.url).automations().delete(automation)
        runner = subprocess.run(
            [sys.executable, str(HERE / "run_runner.py"), "--url", b.url, "StampTrigger"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert runner.returncode == 0, runner.stderr[-2000:]
        stamps = (folder / "stamps").read_text().split()
        assert 3 <= len(stamps) <= 5, stamps
        assert len(set(stamps)) == len(stamps), f"a tick fired twice: {sorted(stamps)}"
    finally:
        stop(a_process)
        stop(b_process)
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_two_replicas_watching_one_folder_fire_each_new_file_once(tmp_path):
    database = f"jobtrace_py_{uuid.uuid4().hex}"
    psql(f"CREATE DATABASE {database}")
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database
    folder = tmp_path / "watched"
    folder.mkdir()
    a, a_process = start_replica(tmp_path, "a", database_url, "--watch-root", str(folder))
    wait_until_healthy(a.url, a_process, a.log)
    b, b_process = start_replica(tmp_path, "b", database_url, "--watch-root", str(folder))
    try:
        wait_until_healthy(b.url, b_process, b.log)
        client = Client(url=a.url)
        location = client.storage_locations().create("landing", LocalReference(str(folder)))
        automation = client.automations().create_storage_event_automation(
            "arrivals", RecordArrival(folder=str(tmp_path)), (location, "*.txt")
        )
        for i in range(40):
            (folder / f"file-{i:02}.txt").write_text(str(i))
            time.sleep(0.05)
        service = StorageLocationService(Client(url=b.url)._storage_location_service)  # noqa: SLF001
        deadline = time.monotonic() + 20
        while len(events := service.list_events(location.id, Pagination(limit=1000)).events) < 40:
            assert time.monotonic() < deadline, f"{len(events)} of 40 files seen\n{a.log()[-2000:]}\n{b.log()[-2000:]}"
            time.sleep(0.2)
        time.sleep(2.5)  # both replicas list the folder again: nothing more fires
        events = service.list_events(location.id, Pagination(limit=1000)).events
        assert sorted(e.object_key for e in events) == [f"file-{i:02}.txt" for i in range(40)]
        jobs = client.jobs().query(automation_ids=[automation.id])
        assert len(jobs) == 40, f"{len(jobs)} jobs for 40 new files"
        seen_by = [name for name, server in (("a", a), ("b", b)) if "new object triggered jobs" in server.log()]
        print("replicas that fired:", seen_by)
    finally:
        stop(a_process)
        stop(b_process)
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
