#!/usr/bin/env python3
"""No hangs: a running 5,000-span job, then at once 200 concurrent renders of its page, 300 live streams
(`/api/v1/jobs/{id}/events`) held open, OTLP ingest from 4 senders, and `/healthz` probed every
100 ms (`make chaos`).

    scripts/load_pages.py --bin target/release/jobtrace [--backend sqlite|postgres]
        [--renders 200] [--streams 300] [--seconds 20]

Checks: every render answers 200 within 5 s, every stream opens (200 with its headers), ingest
keeps being acknowledged, `/healthz` answers within 1 s throughout. (PostgreSQL: the server in
`JOBTRACE_TEST_PG_ADMIN_URL`, default postgres://postgres@127.0.0.1:5432/postgres.) One more stream than the cap
gets a clear 503. Prints the figures as one JSON line; exits 1 if any check fails.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

from jobtrace_server import Store, free_port, start_server, stop_server


def post_json(port: int, path: str, body: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def spans_request(trace: str, count: int, start_ns: int, first: int = 0) -> dict:
    """Spans under a root that has not arrived: the job is running, so its live streams stay open."""
    root = "f000000000000000"
    spans = []
    for i in range(first, first + count):
        spans.append({
            "traceId": trace, "spanId": f"{i + 1:016x}", "parentSpanId": root, "name": f"task/Work{i % 7}",
            "kind": 1, "startTimeUnixNano": str(start_ns + i * 1000), "endTimeUnixNano": str(start_ns + i * 1000 + 900),
            "attributes": [{"key": "tile", "value": {"stringValue": f"T{i}"}}],
        })
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "load"}}]}, "scopeSpans": [{"spans": spans}]}]}


def timed_get(port: int, path: str, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status, time.monotonic() - started
    except (OSError, http.client.HTTPException):
        return 0, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="jobtrace-load-")
    port = free_port()
    store = Store(args.backend, folder, "load")
    log = open(os.path.join(folder, "server.log"), "w")
    server = start_server(args.bin, port, store.url, ["--max-live-streams", str(args.streams)], log)
    problems: list[str] = []
    stop = threading.Event()
    try:
        trace = uuid.uuid4().hex
        now = time.time_ns()
        for first in range(0, 5000, 1000):
            assert post_json(port, "/v1/traces", spans_request(trace, 1000, now, first)) == 200
        job = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/jobs/{trace}", timeout=30))
        assert job["span_count"] == 5000 and job["state"] == "RUNNING", job

        # Live streams, held open until the end.
        streams_open: list[int] = []
        stream_sockets: list[socket.socket] = []
        lock = threading.Lock()

        def open_stream() -> None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(f"GET /api/v1/jobs/{job['id']}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head = s.recv(4096).decode(errors="replace")
                status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else 0
                with lock:
                    streams_open.append(status)
                    stream_sockets.append(s)
            except OSError:
                with lock:
                    streams_open.append(0)

        openers = [threading.Thread(target=open_stream) for _ in range(args.streams)]
        for t in openers:
            t.start()

        # Ingest during the load: one new trace per request.
        acked = [0]
        refused = [0]

        def ingest() -> None:
            while not stop.is_set():
                status = post_json(port, "/v1/traces", spans_request(uuid.uuid4().hex, 200, time.time_ns()))
                with lock:
                    if status == 200:
                        acked[0] += 1
                    else:
                        refused[0] += 1

        senders = [threading.Thread(target=ingest, daemon=True) for _ in range(4)]
        for t in senders:
            t.start()

        health: list[float] = []

        def probe() -> None:
            while not stop.is_set():
                status, took = timed_get(port, "/healthz", 5)
                health.append(took if status == 200 else 99.0)
                time.sleep(0.1)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()

        renders: list[tuple[int, float]] = []

        def render() -> None:
            result = timed_get(port, f"/jobs/{job['id']}", 30)
            with lock:
                renders.append(result)

        load_started = time.monotonic()
        renderers = [threading.Thread(target=render) for _ in range(args.renders)]
        for t in renderers:
            t.start()
        for t in renderers:
            t.join()
        for t in openers:
            t.join()
        # Keep everything open for the rest of the run.
        while time.monotonic() - load_started < args.seconds:
            time.sleep(0.2)
        over_cap = timed_get(port, f"/api/v1/jobs/{job['id']}/events", 5)[0]
        stop.set()
        for t in senders:
            t.join(timeout=30)
        prober.join(timeout=10)
        for s in stream_sockets:
            s.close()

        slow = [took for status, took in renders if status != 200 or took > 5]
        if slow:
            problems.append(f"{len(slow)} of {len(renders)} renders failed or took over 5 s")
        not_open = [status for status in streams_open if status != 200]
        if not_open:
            problems.append(f"{len(not_open)} of {len(streams_open)} streams did not open: {not_open[:5]}")
        if over_cap != 503:
            problems.append(f"a stream over the cap got {over_cap}, not 503")
        if max(health, default=99) > 1:
            problems.append(f"/healthz took up to {max(health):.2f} s")
        if acked[0] == 0:
            problems.append("no ingest request was acknowledged during the load")
        times = sorted(took for _, took in renders)
        report = {
            "backend": args.backend,
            "renders": len(renders),
            "render_p50_s": round(times[len(times) // 2], 3) if times else None,
            "render_max_s": round(times[-1], 3) if times else None,
            "streams_open": streams_open.count(200),
            "over_cap_status": over_cap,
            "ingest_requests_acked": acked[0],
            "ingest_requests_refused": refused[0],
            "healthz_max_s": round(max(health, default=0), 3),
            "problems": problems,
        }
        print(json.dumps(report), flush=True)
        return 1 if problems else 0
    finally:
        stop.set()
        stop_server(server)
        store.drop()


if __name__ == "__main__":
    sys.exit(main())
