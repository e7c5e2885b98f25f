#!/usr/bin/env python3
"""Task claiming with the real client: R unmodified `tilebox-workflows` runner processes against
`jobtrace serve` over the network (gRPC on the one port, telemetry to /v1/traces and /v1/logs), on
a fresh SQLite file or PostgreSQL database (docs/BENCHMARKS.md, issue 14).

    .venv/bin/python scripts/bench_claims_python.py --bin target/release/jobtrace \
        [--backend sqlite|postgres] [--tasks 2000] [--runners 8]

Once every runner is connected, one job is submitted: a FanOut task that submits `tasks` no-op
Sleep(0) subtasks and a Collect task depending on them (tests/python/workflow_tasks.py). Prints
tasks/s from the submission to the job's COMPLETED state (polled every 20 ms) as one JSON line.
"""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobtrace_server import Store, api, free_port, start_server, stop_server

TESTS = Path(__file__).resolve().parent.parent / "tests" / "python"
sys.path.insert(0, str(TESTS))



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--runners", type=int, default=8)
    args = parser.parse_args()

    from tilebox.workflows import Client  # noqa: PLC0415 (after sys.path has tests/python)

    import workflow_tasks  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        store = Store(args.backend, folder, "claims_python")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(os.environ.get("BENCH_LOG", os.path.join(folder, "server.log")), "w")
        server = start_server(args.bin, port, store.url, [], log)
        runners = []
        try:
            env = dict(os.environ, PYTHONUNBUFFERED="1", OTEL_EXPORT_INTERVAL="1s")
            for _ in range(args.runners):
                runners.append(
                    subprocess.Popen(
                        [sys.executable, str(TESTS / "run_runner.py"), "--url", url, "--forever",
                         "FanOut", "Sleep", "Collect"],
                        stdout=subprocess.PIPE, stderr=log, env=env, text=True,
                        start_new_session=True,
                    )
                )
            for runner in runners:
                line = runner.stdout.readline()
                if "runner ready" not in line:
                    raise RuntimeError(f"a runner did not start: {line!r}")
            client = Client(url=url)
            started = time.monotonic()
            job = client.jobs().submit("claims-python", workflow_tasks.FanOut(count=args.tasks, seconds=0.0))
            state = "SUBMITTED"
            while time.monotonic() - started < 600:
                state = api(f"{url}/api/v1/jobs/{job.id}")["state"]
                if state in ("COMPLETED", "FAILED", "CANCELED"):
                    break
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            total = args.tasks + 2
            print(json.dumps({
                "backend": args.backend,
                "runners": args.runners,
                "tasks": total,
                "state": state,
                "elapsed_s": round(elapsed, 2),
                "tasks_per_s": round(total / elapsed, 1),
            }), flush=True)
            if state != "COMPLETED":
                sys.exit(1)
        finally:
            for runner in runners:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
            stop_server(server)
            store.drop()


if __name__ == "__main__":
    main()
