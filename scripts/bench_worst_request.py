#!/usr/bin/env python3
"""What the largest OTLP requests of each shape cost the server in memory (issue 13: a request of any
shape under the body limit costs a bounded amount; docs/RELIABILITY.md).

    .venv/bin/python scripts/bench_worst_request.py --bin target/release/jobtrace [--at-once 8]
    .venv/bin/python scripts/bench_worst_request.py --bin target/release/jobtrace --uploads 250 [--baseline OLD]

For each shape, a fresh server on a fresh SQLite store gets `--at-once` copies of the request at the
same moment (8 = the default `--max-concurrent-ingest`: more wait their turn), each a new trace. The
figure is the server's peak RSS (`VmHWM`) above its RSS before, and what the server answered. Prints a
JSON line per shape. With `--uploads N`: only N uploads of a 15 MB request at once, for each binary
(bodies are read before a request waits for its turn, so this is what the body budget bounds).
"""

import argparse
import gzip
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from jobtrace_server import Store, free_port, rss_kib, start_server, stop_server
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

TRACE = b"\xab" * 16
BODY_LIMIT = 16 * 1024 * 1024


def spans_request(count: int, attributes: int = 0, name: str = "s", value: str = "") -> bytes:
    span = trace_pb2.Span(trace_id=TRACE, span_id=b"\x00" * 8, name=name, start_time_unix_nano=1, end_time_unix_nano=2,
                          attributes=[common_pb2.KeyValue(key="", value=common_pb2.AnyValue(string_value=value))
                                      for _ in range(attributes)])
    spans = []
    for i in range(count):
        copy = trace_pb2.Span()
        copy.CopyFrom(span)
        copy.span_id = (i + 1).to_bytes(8, "big")
        spans.append(copy)
    return ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]).SerializeToString()


def logs_request(count: int, body: str) -> bytes:
    records = [logs_pb2.LogRecord(time_unix_nano=1, severity_number=9, trace_id=TRACE, span_id=(i + 1).to_bytes(8, "big"),
                                  body=common_pb2.AnyValue(string_value=body)) for i in range(count)]
    return ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        scope_logs=[logs_pb2.ScopeLogs(log_records=records)])]).SerializeToString()


def json_spans(count: int, attributes: int) -> bytes:
    spans = [{"traceId": TRACE.hex(), "spanId": f"{i + 1:016x}", "name": "s", "startTimeUnixNano": "1",
              "endTimeUnixNano": "2", "attributes": [{"key": "", "value": {"stringValue": ""}}] * attributes}
             for i in range(count)]
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}, separators=(",", ":")).encode()


def shapes() -> dict[str, tuple[str, str, bytes, bool]]:
    """name → (path, content type, body, gzipped)."""
    protobuf, js = "application/x-protobuf", "application/json"
    return {
        "100,000 empty spans (the item limit)": ("/v1/traces", protobuf, spans_request(100_000), False),
        "100,000 spans of 9 attributes (near the 2,000,000-message limit)": (
            "/v1/traces", protobuf, spans_request(100_000, attributes=9), False),
        "one span, a 15 MB attribute value": ("/v1/traces", protobuf, spans_request(1, 1, value="v" * 15_000_000), False),
        "one span, a 15 MB name": ("/v1/traces", protobuf, spans_request(1, name="n" * 15_000_000), False),
        "1,000 spans of 900 attributes (cut to 128 each)": ("/v1/traces", protobuf, spans_request(1_000, attributes=900), False),
        "100,000 log records of 100 bytes": ("/v1/logs", protobuf, logs_request(100_000, "b" * 100), False),
        "100,000 spans as JSON": ("/v1/traces", js, json_spans(100_000, 0), False),
        "30,000 spans of 8 attributes as JSON": ("/v1/traces", js, json_spans(30_000, 8), False),
        "16 MB of zeros, gzipped to 16 KB (a bomb)": ("/v1/traces", protobuf, gzip.compress(b"\x00" * BODY_LIMIT), True),
        "17 MB gzip bomb (over the limit once inflated)": ("/v1/traces", protobuf, gzip.compress(b"\x00" * (BODY_LIMIT + 1_000_000)), True),
    }


def post(url: str, content_type: str, body: bytes, gzipped: bool, answers: list) -> None:
    headers = {"Content-Type": content_type}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=120) as answer:
            answers.append(answer.status)
    except urllib.error.HTTPError as error:
        answers.append(error.code)
    except OSError as error:
        answers.append(str(error))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--baseline", help="with --uploads: another binary, measured the same way")
    parser.add_argument("--at-once", type=int, default=8)
    parser.add_argument("--uploads", type=int, default=0)
    args = parser.parse_args()
    if args.uploads:
        body = spans_request(1, 1, value="v" * 15_000_000)
        for binary in [args.bin] + ([args.baseline] if args.baseline else []):
            measure(binary, "one span, a 15 MB attribute value", "/v1/traces", "application/x-protobuf", body,
                    False, args.uploads)
        return 0
    for name, (path, content_type, body, gzipped) in shapes().items():
        measure(args.bin, name, path, content_type, body, gzipped, args.at_once)
    return 0


def measure(binary: str, name: str, path: str, content_type: str, body: bytes, gzipped: bool, at_once: int) -> None:
    """`at_once` copies of the request (each its own trace, at most 255) to a fresh server; prints the figures."""
    folder = tempfile.mkdtemp(prefix="jobtrace-worst-")
    store = Store("sqlite", folder, "worst")
    port = free_port()
    log = open(os.path.join(folder, "server.log"), "w")
    server = start_server(binary, port, store.url, [], log)
    try:
        time.sleep(0.2)
        before = rss_kib(server.pid, "VmRSS")
        answers: list = []
        bodies = [body.replace(TRACE, bytes([i + 1]) * 16) if not gzipped and content_type.endswith("protobuf") else
                  body.replace(TRACE.hex().encode(), (bytes([i + 1]) * 16).hex().encode()) if not gzipped else body
                  for i in range(at_once)]
        threads = [threading.Thread(target=post, args=(f"http://127.0.0.1:{port}{path}", content_type, b, gzipped, answers))
                   for b in bodies]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
        peak = rss_kib(server.pid, "VmHWM")
        print(json.dumps({
            "binary": binary, "shape": name, "body_bytes": len(body), "at_once": at_once,
            "answers": {str(a): answers.count(a) for a in set(answers)}, "seconds": round(took, 2),
            "rss_before_mb": round(before / 1024, 1), "peak_rss_mb": round(peak / 1024, 1),
            "peak_above_before_mb": round((peak - before) / 1024, 1),
            "per_request_mb": round((peak - before) / 1024 / at_once, 1),
        }), flush=True)
    finally:
        stop_server(server)
        store.drop()


if __name__ == "__main__":
    sys.exit(main())
