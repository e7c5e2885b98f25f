"""SIGTERM with a stalled upload and an open live stream: the server exits within its grace period
(it had not exited after 40 s with a stalled upload, 60 s with a live stream), and what it
acknowledged before is there after a restart."""

import os
import signal
import socket
import time

import requests
from conftest import launch, stop

TRACE = "7d8efff798038103d269b633813fc60c"


def span_request(name: str) -> dict:
    """One span under a root that has not arrived: its job is still running."""
    start = time.time_ns() - 5_000_000_000
    span = {
        "traceId": TRACE,
        "spanId": "00000000000000b1",
        "parentSpanId": "00000000000000a0",
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 100_000_000),
    }
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}


def test_sigterm_exits_within_grace_and_keeps_what_it_acknowledged(tmp_path):
    database = f"sqlite:{tmp_path / 'jobtrace.db'}"
    server, process = launch(tmp_path, database, "--shutdown-grace-secs", "3")
    acked = requests.post(f"{server.url}/v1/traces", json=span_request("acked-before-shutdown"), timeout=10)
    assert acked.status_code == 200
    job = requests.get(f"{server.url}/api/v1/jobs", timeout=10).json()["jobs"][0]
    assert job["state"] == "RUNNING"
    job_id = job["id"]

    # A live stream that stays open, and an upload that stalls halfway through its body.
    stream = requests.get(f"{server.url}/api/v1/jobs/{job_id}/events", stream=True, timeout=30)
    assert stream.status_code == 200
    assert next(stream.iter_lines()), "the stream is open and sent the job"
    host, port = server.url.removeprefix("http://").split(":")
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{\"resourceSpans\": ["
    )
    time.sleep(0.5)

    started = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    code = process.wait(timeout=20)
    took = time.monotonic() - started
    stalled.close()
    stream.close()
    assert code == 0, server.log()[-2000:]
    assert took < 3 + 3, f"exited after {took:.1f} s"

    server, process = launch(tmp_path, database)
    try:
        spans = requests.get(f"{server.url}/api/v1/jobs/{job_id}/spans", timeout=10).json()["spans"]
        assert [span["name"] for span in spans] == ["acked-before-shutdown"]
    finally:
        stop(process)
