#!/usr/bin/env python3
"""Server memory under sustained ingest, and cold start on a large store (issue 14, docs/BENCHMARKS.md).

    .venv/bin/python scripts/bench_memory_start.py --bin target/release/jobtrace [--baseline OLD_BINARY] \
        [--backend sqlite|postgres] [--spans 1000000] [--senders 4]

For each binary, on a fresh store: `--spans` spans are sent as OTLP/HTTP protobuf requests of 512 spans
(traces of 1,000 spans, five attributes a span, every tenth span failed with an exception event) by
`--senders` concurrent senders, each request acknowledged before the next. The server's resident memory
is sampled every 100 ms; its peak (`VmHWM`) is read before it stops. Then the server is stopped
(SIGTERM), the store's size noted, and started again: the time from the process start to the first
`/healthz` 200 and to the first job list page is the cold start. Prints one JSON line per binary.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from jobtrace_server import Store, free_port, rss_kib, start_server, stop_server
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

BATCH = 512
TRACE_SPANS = 1000
TEMPLATE_TRACE = bytes.fromhex("abcdef0123456789abcdef0123456789")


def kv(key: str, value) -> common_pb2.KeyValue:
    any_value = common_pb2.AnyValue(int_value=value) if isinstance(value, int) else common_pb2.AnyValue(string_value=value)
    return common_pb2.KeyValue(key=key, value=any_value)


def template(offset: int) -> bytes:
    """A request of BATCH spans of the template trace, span ids from `offset`; the trace id is
    replaced per request (its 16 bytes occur only as trace ids)."""
    start = time.time_ns() - 3_600_000_000_000
    spans = []
    for i in range(offset, offset + BATCH):
        span = trace_pb2.Span(
            trace_id=TEMPLATE_TRACE, span_id=(i + 1).to_bytes(8, "big"), name=f"task/Process{i % 7}", kind=1,
            start_time_unix_nano=start + i * 1_000_000, end_time_unix_nano=start + i * 1_000_000 + 900_000,
            attributes=[kv("task_id", f"0190f0c4-0000-7000-8000-{i:012x}"), kv("identifier.name", f"Process{i % 7}"),
                        kv("identifier.version", "v1.0"), kv("tile", i), kv("scene_id", f"S2A_MSIL2A_{i:08d}")],
        )
        if i:
            span.parent_span_id = (1).to_bytes(8, "big")
        if i and i % 10 == 0:
            span.status.code = 2
            span.events.append(trace_pb2.Span.Event(name="exception", time_unix_nano=start + i * 1_000_000,
                                                    attributes=[kv("exception.type", "ValueError")]))
        spans.append(span)
    resource = resource_pb2.Resource(attributes=[kv("service.name", "tilebox-workflows"), kv("host.name", "runner-1"),
                                                 kv("process.pid", 4001)])
    request = ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])])
    body = request.SerializeToString()
    assert body.count(TEMPLATE_TRACE) == BATCH
    return body


def ingest(url: str, spans: int, senders: int, bodies: list[bytes]) -> float:
    """Sends `spans` spans; returns the seconds it took."""
    requests_total = spans // BATCH
    next_request = [0]
    lock = threading.Lock()
    failures = []

    def send() -> None:
        while True:
            with lock:
                n = next_request[0]
                next_request[0] += 1
            if n >= requests_total:
                return
            # Requests of one trace go to one trace id: TRACE_SPANS / BATCH requests a trace.
            per_trace = max(1, TRACE_SPANS // BATCH)
            trace = (n // per_trace + 1).to_bytes(16, "big")
            body = bodies[n % per_trace].replace(TEMPLATE_TRACE, trace)
            request = urllib.request.Request(f"{url}/v1/traces", data=body,
                                             headers={"Content-Type": "application/x-protobuf"})
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    answer.read()
            except OSError as error:
                failures.append(str(error))
                return

    started = time.monotonic()
    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"ingest failed: {failures[:3]}")
    return time.monotonic() - started


def cold_start(binary: str, port: int, database_url: str, log) -> tuple[float, float]:
    started = time.monotonic()
    server = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", "--database-url", database_url],
                              stdout=log, stderr=subprocess.STDOUT)
    healthy = listed = None
    while time.monotonic() - started < 60:
        try:
            if healthy is None:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                healthy = time.monotonic() - started
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/jobs?limit=50", timeout=5).read()
            listed = time.monotonic() - started
            break
        except OSError:
            time.sleep(0.005)
    stop_server(server)
    if healthy is None or listed is None:
        raise RuntimeError("the server did not answer within 60 s of its start")
    return healthy, listed


def store_bytes(store: Store, folder: str) -> int:
    if store.database is None:
        return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.startswith(store.url.rsplit("/", 1)[-1]))
    out = subprocess.run(["psql", store.url, "-Atc", "SELECT pg_database_size(current_database())"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--baseline")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--senders", type=int, default=4)
    args = parser.parse_args()
    bodies = [template(offset) for offset in range(0, TRACE_SPANS - BATCH + 1, BATCH)] or [template(0)]
    binaries = [("new", args.bin)] + ([("baseline", args.baseline)] if args.baseline else [])
    for name, binary in binaries:
        folder = tempfile.mkdtemp(prefix=f"jobtrace-mem-{name}-")
        store = Store(args.backend, folder, f"mem_{name}")
        port = free_port()
        log = open(os.path.join(folder, "server.log"), "w")
        try:
            server = start_server(binary, port, store.url, [], log)
            peak_sampled = [0]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak_sampled[0] = max(peak_sampled[0], rss_kib(server.pid, "VmRSS"))
                    time.sleep(0.1)

            sampler = threading.Thread(target=sample)
            sampler.start()
            rss_before = rss_kib(server.pid, "VmRSS")
            seconds = ingest(f"http://127.0.0.1:{port}", args.spans, args.senders, bodies)
            done.set()
            sampler.join()
            hwm = rss_kib(server.pid, "VmHWM")
            rss_after = rss_kib(server.pid, "VmRSS")
            stop_server(server)
            size = store_bytes(store, folder)
            healthy, listed = cold_start(binary, port, store.url, log)
            print(json.dumps({
                "binary": name, "backend": args.backend, "spans": args.spans, "senders": args.senders,
                "ingest_spans_per_s": round(args.spans / seconds), "rss_before_mb": round(rss_before / 1024, 1),
                "peak_rss_mb": round(hwm / 1024, 1), "rss_after_mb": round(rss_after / 1024, 1),
                "store_mb": round(size / 1e6), "cold_start_healthz_s": round(healthy, 3),
                "cold_start_job_list_s": round(listed, 3),
            }), flush=True)
        finally:
            store.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
