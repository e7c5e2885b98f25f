#!/usr/bin/env python3
"""How long the job page's search takes the server on a big trace, per backend: a bare term
(looked for in every attribute value, `json_each` / `jsonb_each_text`) next to its baseline, a
`key=value` term (one JSON path per span), on the same trace in the same run.

    scripts/bench_value_search.py --bin target/release/jobtrace [--spans 100000] [--backend sqlite|postgres]

Each span has three attributes (`task_id`, `scene_id`, `attempt`); one span in 1,000 holds the
searched value. Prints the median and slowest of 20 searches (docs/BENCHMARKS.md)."""

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
import uuid

from jobtrace_server import Store, free_port, start_server, stop_server


def post(url: str, body: dict) -> None:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=60).read()


def seed(base: str, trace_id: str, count: int) -> None:
    start = (int(time.time()) - 3600) * 1_000_000_000
    root = "0" * 15 + "1"
    for first in range(0, count, 2000):
        spans = []
        for i in range(first, min(first + 2000, count)):
            span_id = f"{i + 2:016x}"
            attributes = [
                {"key": "task_id", "value": {"stringValue": str(uuid.UUID(int=i))}},
                {"key": "scene_id", "value": {"stringValue": "S2A_NEEDLE" if i % 1000 == 7 else f"S2A_{i:06d}"}},
                {"key": "attempt", "value": {"intValue": str(i % 3)}},
            ]
            spans.append({
                "traceId": trace_id, "spanId": root if i == 0 else span_id,
                "parentSpanId": "" if i == 0 else root, "name": "job/search" if i == 0 else "task/Tile",
                "kind": 1, "startTimeUnixNano": str(start + i * 1_000_000),
                "endTimeUnixNano": str(start + i * 1_000_000 + 500_000), "attributes": attributes,
            })
        post(f"{base}/v1/traces", {"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]},
            "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}],
        }]})


def timed(base: str, trace_id: str, search: str, runs: int = 20) -> tuple[float, float, int]:
    url = f"{base}/api/search_spans?trace_id={trace_id}&search={urllib.request.quote(search)}"
    times, found = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        answer = json.load(urllib.request.urlopen(url, timeout=60))
        times.append((time.perf_counter() - began) * 1000)
        found = len(answer["values"][0]) if answer["values"] else len(answer["attributes"] or [])
    return statistics.median(times), max(times), found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(args.backend, folder, "search")
        port = free_port()
        with open(f"{folder}/server.log", "w") as log:
            server = start_server(args.bin, port, store.url, [], log)
            try:
                base = f"http://127.0.0.1:{port}"
                trace_id = uuid.uuid4().hex
                seed(base, trace_id, args.spans)
                for label, search in [("key=value (baseline)", "scene_id=S2A_NEEDLE"), ("bare value", "needle")]:
                    median, worst, found = timed(base, trace_id, search)
                    print(f"{args.backend} {args.spans} spans  {label:22} median {median:7.1f} ms  max {worst:7.1f} ms  ({found} spans)")
            finally:
                stop_server(server)
                store.drop()


if __name__ == "__main__":
    main()
