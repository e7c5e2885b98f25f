#!/usr/bin/env python3
"""Fetching a job's spans over REST as a client does (issue 14, docs/BENCHMARKS.md): every span of a
10,000-span job through `GET /api/v1/jobs/{id}/spans`, following `next_cursor` until it is null.

    .venv/bin/python scripts/bench_span_fetch.py --bin target/release/jobtrace [--baseline OLD_BINARY] \
        [--backend sqlite|postgres] [--spans 10000] [--rounds 15] [--other-traces 0]

Each binary gets a fresh store seeded through OTLP/JSON with the same trace: spans of Tilebox-like
tasks (five attributes each, every tenth failed with an exception event, four runner processes).
`--other-traces N` adds N more traces of as many spans, interleaved in time with the fetched one (as
concurrent jobs are), before it; the fetched trace is then a share of the store, not all of it.
Then, rounds alternating between the binaries, three ways to fetch the whole job:
  - `pages`: the default page size (1,000), following the cursor;
  - `one page`: `limit=10000`, the largest page (the issue allows a larger page size);
  - `one page gzip`: the same with `Accept-Encoding: gzip`, as Python's requests sends it.
Times are from sending the first request to the last byte of the last page, on one keep-alive
connection; the cursor is read from the body's end (no JSON parse in the timing). Before timing, both
binaries' answers are parsed and compared: the same spans with the same fields. Prints one JSON line.
"""

import argparse
import gzip
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import time

from jobtrace_server import Store, free_port, start_server, stop_server

TRACE = "5b8efff798038103d269b633813fc60c"
CURSOR = re.compile(rb'"next_cursor":\s*(null|"([^"]*)")')


def seed_requests(spans: int, start_ns: int, trace: str = TRACE) -> list[dict]:
    """The trace as OTLP/JSON requests of 1,000 spans: a job root, then task spans under it."""
    requests = []
    for first in range(0, spans, 1000):
        by_runner: dict[int, list] = {}
        for i in range(first, min(first + 1000, spans)):
            span = {
                "traceId": trace,
                "spanId": f"{i + 1:016x}",
                "name": "job/fetch-bench" if i == 0 else f"task/Process{i % 7}",
                "kind": 1,
                "startTimeUnixNano": str(start_ns + i * 1_000_000),
                "endTimeUnixNano": str(start_ns + i * 1_000_000 + 900_000),
                "attributes": [
                    {"key": "task_id", "value": {"stringValue": f"0190f0c4-0000-7000-8000-{i:012x}"}},
                    {"key": "identifier.name", "value": {"stringValue": f"Process{i % 7}"}},
                    {"key": "identifier.version", "value": {"stringValue": "v1.0"}},
                    {"key": "tile", "value": {"intValue": str(i)}},
                    {"key": "scene_id", "value": {"stringValue": f"S2A_MSIL2A_{i:08d}"}},
                ],
            }
            if i:
                span["parentSpanId"] = f"{1:016x}"
            if i and i % 10 == 0:
                span["status"] = {"code": 2, "message": "tile failed"}
                span["events"] = [{
                    "name": "exception",
                    "timeUnixNano": str(start_ns + i * 1_000_000 + 800_000),
                    "attributes": [
                        {"key": "exception.type", "value": {"stringValue": "ValueError"}},
                        {"key": "exception.message", "value": {"stringValue": f"tile {i} has no data"}},
                    ],
                }]
            by_runner.setdefault(i % 4, []).append(span)
        requests.append({"resourceSpans": [
            {
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "tilebox-workflows"}},
                    {"key": "host.name", "value": {"stringValue": f"runner-{runner}"}},
                    {"key": "process.pid", "value": {"intValue": str(4000 + runner)}},
                ]},
                "scopeSpans": [{"spans": spans_of}],
            }
            for runner, spans_of in sorted(by_runner.items())
        ]})
    return requests


def fetch_all(conn: http.client.HTTPConnection, job: str, limit: int | None, gzip_: bool) -> list[bytes]:
    """Every page's body, following the cursor."""
    bodies = []
    cursor = None
    headers = {"Accept-Encoding": "gzip" if gzip_ else "identity"}
    while True:
        query = []
        if limit:
            query.append(f"limit={limit}")
        if cursor:
            query.append(f"cursor={cursor}")
        path = f"/api/v1/jobs/{job}/spans" + ("?" + "&".join(query) if query else "")
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        bodies.append(body)
        found = CURSOR.search(body[-300:]) or CURSOR.search(body)
        if found is None or found.group(1) == b"null":
            return bodies
        cursor = found.group(2).decode()


def spans_of(bodies: list[bytes]) -> list[dict]:
    return [span for body in bodies for span in json.loads(body)["spans"]]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--baseline", help="another jobtrace binary, measured alternately")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--other-traces", type=int, default=0)
    args = parser.parse_args()

    binaries = {"new": args.bin}
    if args.baseline:
        binaries = {"baseline": args.baseline, "new": args.bin}
    folder = tempfile.mkdtemp(prefix="jobtrace-fetch-")
    servers, stores, conns = {}, [], {}
    start_ns = time.time_ns() - 3_600_000_000_000
    try:
        for name, binary in binaries.items():
            store = Store(args.backend, folder, f"fetch_{name}")
            stores.append(store)
            port = free_port()
            log = open(os.path.join(folder, f"{name}.log"), "w")
            servers[name] = start_server(binary, port, store.url, [], log)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            others = [
                request
                for other in range(args.other_traces)
                for request in seed_requests(args.spans, start_ns + (other + 1) * 100_000, f"{other + 1:032x}")
            ]
            for request in others + seed_requests(args.spans, start_ns):
                conn.request("POST", "/v1/traces", json.dumps(request), {"Content-Type": "application/json"})
                answer = conn.getresponse()
                answer.read()
                assert answer.status == 200, answer.status
            conns[name] = conn

        modes = {"pages": (None, False), "one page": (10_000, False), "one page gzip": (10_000, True)}
        # The same answer from every binary and every mode.
        reference = None
        for name, conn in conns.items():
            for mode, (limit, gzip_) in modes.items():
                spans = spans_of(fetch_all(conn, TRACE, limit, gzip_))
                if len(spans) != args.spans:
                    raise RuntimeError(f"{name} {mode}: {len(spans)} spans, expected {args.spans}")
                if reference is None:
                    reference = spans
                elif spans != reference:
                    diff = next(i for i, (a, b) in enumerate(zip(spans, reference)) if a != b)
                    raise RuntimeError(f"{name} {mode} differs at span {diff}: {spans[diff]} vs {reference[diff]}")

        times = {(name, mode): [] for name in conns for mode in modes}
        for _ in range(args.rounds):
            for name, conn in conns.items():
                for mode, (limit, gzip_) in modes.items():
                    started = time.perf_counter()
                    fetch_all(conn, TRACE, limit, gzip_)
                    times[(name, mode)].append((time.perf_counter() - started) * 1000)
        report = {"backend": args.backend, "spans": args.spans, "other_traces": args.other_traces, "rounds": args.rounds, "ms": {}}
        for (name, mode), samples in times.items():
            samples.sort()
            report["ms"][f"{name} {mode}"] = {
                "median": round(statistics.median(samples), 1),
                "p90": round(samples[int(len(samples) * 0.9) - 1], 1),
                "min": round(samples[0], 1),
            }
        print(json.dumps(report), flush=True)
        return 0
    finally:
        for server in servers.values():
            stop_server(server)
        for store in stores:
            store.drop()


if __name__ == "__main__":
    sys.exit(main())
