#!/usr/bin/env python3
"""Peak server memory while exporting: the issue's case, 300 spans of ~1 MB attributes each.

    scripts/bench_export_memory.py BINARY [BINARY ...] [--spans 300] [--exports 4]

For each binary (for example main's and a baseline's, side by side): a fresh SQLite store, the
spans sent over OTLP/HTTP JSON, then the server's peak RSS (VmHWM) is read after ingest, after one
CSV export and after `--exports` concurrent CSV, Parquet and Arrow exports, each read to the end.
Prints one line per binary; docs/BENCHMARKS.md has the figures.
"""

import argparse
import concurrent.futures
import json
import subprocess
import tempfile
import time
import urllib.request

from jobtrace_server import free_port, start_server, stop_server

TRACE = "7d8efff798038103d269b633813fc60c"


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def post(url: str, body: dict) -> None:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def spans_request(first: int, count: int, attribute_bytes: int) -> dict:
    # 16 attributes of attribute_bytes/16 each: under the 64 KiB value limit, ~attribute_bytes a span.
    value = "x" * (attribute_bytes // 16)
    spans = [
        {
            "traceId": TRACE,
            "spanId": f"{first + i + 1:016x}",
            "name": f"span-{first + i}",
            "startTimeUnixNano": str(1_700_000_000_000_000_000 + (first + i) * 1000),
            "endTimeUnixNano": str(1_700_000_000_000_000_000 + (first + i) * 1000 + 500),
            "attributes": [{"key": f"a{k}", "value": {"stringValue": value}} for k in range(16)],
        }
        for i in range(count)
    ]
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]}, "scopeSpans": [{"spans": spans}]}]}


def read_all(url: str) -> int:
    with urllib.request.urlopen(url, timeout=600) as response:
        total = 0
        while chunk := response.read(1 << 20):
            total += len(chunk)
        return total


def measure(binary: str, spans: int, exports: int, attribute_bytes: int) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(binary, port, f"sqlite:{folder}/bench.db", [], subprocess.DEVNULL)
        try:
            per_request = max(1, (12 << 20) // attribute_bytes)
            for first in range(0, spans, per_request):
                post(f"{url}/v1/traces", spans_request(first, min(per_request, spans - first), attribute_bytes))
            after_ingest = peak_rss_mb(server.pid)
            export = f"{url}/api/v1/jobs/{TRACE}/spans?format="
            started = time.monotonic()
            size = read_all(export + "csv")
            one_csv_s = time.monotonic() - started
            after_one = peak_rss_mb(server.pid)
            formats = ["csv", "parquet", "arrow"] * exports
            with concurrent.futures.ThreadPoolExecutor(len(formats)) as pool:
                sizes = list(pool.map(lambda f: read_all(export + f), formats[:exports]))
            return {
                "binary": binary,
                "spans": spans,
                "csv_mb": round(size / 2**20, 1),
                "one_csv_s": round(one_csv_s, 2),
                "peak_rss_mb_after_ingest": round(after_ingest),
                "peak_rss_mb_after_one_csv": round(after_one),
                f"peak_rss_mb_after_{exports}_concurrent": round(peak_rss_mb(server.pid)),
                "concurrent_sizes_mb": [round(s / 2**20, 1) for s in sizes],
            }
        finally:
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--spans", type=int, default=300)
    parser.add_argument("--exports", type=int, default=4)
    parser.add_argument("--attribute-bytes", type=int, default=1 << 20)
    args = parser.parse_args()
    for binary in args.binaries:
        print(json.dumps(measure(binary, args.spans, args.exports, args.attribute_bytes)), flush=True)


if __name__ == "__main__":
    main()
