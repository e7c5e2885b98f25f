#!/usr/bin/env python3
"""No task lost, none run twice: a job of N tasks, R runner processes killed (SIGKILL) at random and
restarted while they work, and the server itself killed (SIGKILL) and restarted under them
`--server-kills` times, on SQLite or PostgreSQL (`make chaos`).

    scripts/chaos_runners.py --bin target/release/jobtrace --interop target/release/examples/interop \
        [--backend sqlite|postgres] [--tasks 10000] [--runners 8] [--kill-every 0.5] \
        [--server-kills 3] [--timeout 900]

Each `Count` task appends one line to a tally file when its execution runs to its end, so the
executions are counted by the tasks themselves. At the end: the job is COMPLETED, every task is
COMPUTED with exactly one computed attempt, ran to its end at least once, and more than once only
where an earlier attempt's lease expired (its runner was killed after the work but before the
server had its result). Prints the figures as one JSON line; exits 1 if any check fails.
"""

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from jobtrace_server import Store, api, free_port, start_server, stop_server



def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--interop", required=True)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runners", type=int, default=8)
    parser.add_argument("--kill-every", type=float, default=0.5, help="seconds between runner kills")
    parser.add_argument("--millis", type=int, default=5, help="work per task")
    parser.add_argument("--server-kills", type=int, default=0,
                        help="times the server is SIGKILLed and restarted on the same port mid-job")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    folder = tempfile.mkdtemp(prefix="jobtrace-chaos-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = Store(args.backend, folder, "chaos")
    server_log = open(os.path.join(folder, "server.log"), "w")

    def start() -> subprocess.Popen:
        return start_server(args.bin, port, store.url, ["--task-lease-secs", "2", "--runner-idle-ms", "100"],
                            server_log)

    server = start()
    runners: list[subprocess.Popen] = []
    env = dict(os.environ, RUST_LOG="warn")
    runner_log = open(os.path.join(folder, "runners.log"), "w")

    def spawn(i: int) -> subprocess.Popen:
        return subprocess.Popen(
            [args.interop, "--url", url, "--service", f"chaos-{i}", "run"],
            stdout=subprocess.DEVNULL, stderr=runner_log, env=env,
        )

    try:
        tally = os.path.join(folder, "tally.log")
        submitted = subprocess.run(
            [args.interop, "--url", url, "submit-counts", "--count", str(args.tasks), "--tally", tally,
             "--millis", str(args.millis)],
            check=True, capture_output=True, text=True, env=env,
        )
        job_id = submitted.stdout.strip()
        started = time.monotonic()
        runners = [spawn(i) for i in range(args.runners)]
        kills = 0
        server_kills = 0
        next_kill = time.monotonic() + args.kill_every
        state = "SUBMITTED"
        # The server is killed when these shares of the tasks are computed.
        server_kill_at = [(k + 1) / (args.server_kills + 1) for k in range(args.server_kills)]
        while time.monotonic() - started < args.timeout:
            time.sleep(0.1)
            if server_kill_at:
                computed = api(f"{url}/api/v1/jobs/{job_id}").get("tasks", {}).get("computed", 0)
                if computed >= server_kill_at[0] * args.tasks:
                    server_kill_at.pop(0)
                    server.send_signal(signal.SIGKILL)
                    server.wait()
                    time.sleep(rng.uniform(0.2, 2.0))
                    server = start()
                    server_kills += 1
            if time.monotonic() >= next_kill:
                i = rng.randrange(len(runners))
                runners[i].send_signal(signal.SIGKILL)
                runners[i].wait()
                runners[i] = spawn(i)
                kills += 1
                next_kill = time.monotonic() + args.kill_every
            state = api(f"{url}/api/v1/jobs/{job_id}")["state"]
            if state in ("COMPLETED", "FAILED", "CANCELED"):
                break
        elapsed = time.monotonic() - started
        tasks = api(f"{url}/api/v1/jobs/{job_id}/tasks")["tasks"]
        with open(tally) as lines:
            executions = collections.Counter(line.split()[0] for line in lines if line.strip())

        problems = []
        if state != "COMPLETED":
            problems.append(f"job is {state} after {elapsed:.0f} s")
        counts = [t for t in tasks if t["identifier_name"] == "Count"]
        if len(counts) != args.tasks:
            problems.append(f"{len(counts)} Count tasks, expected {args.tasks}")
        attempts = lease_expired = twice = 0
        for task in tasks:
            outcomes = [a["outcome"] for a in task["attempts"]]
            attempts += len(outcomes)
            lease_expired += outcomes.count("lease expired")
            if task["state"] != "COMPUTED":
                problems.append(f"task {task['id']} is {task['state']}")
            if outcomes.count("computed") != 1:
                problems.append(f"task {task['id']} has outcomes {outcomes}")
        for task in counts:
            ran = executions.get(task["id"], 0)
            expired = [a["outcome"] for a in task["attempts"]].count("lease expired")
            if ran == 0 and task["state"] == "COMPUTED":
                problems.append(f"task {task['id']} computed but never ran to its end")
            if ran > 1:
                twice += 1
                if ran - 1 > expired:
                    problems.append(f"task {task['id']} ran {ran} times with {expired} expired leases")
        report = {
            "backend": args.backend,
            "tasks": args.tasks,
            "runners": args.runners,
            "runner_kills": kills,
            "server_kills": server_kills,
            "elapsed_s": round(elapsed, 1),
            "tasks_per_s": round(args.tasks / elapsed, 1),
            "attempts": attempts,
            "lease_expired_attempts": lease_expired,
            "tasks_run_to_the_end_twice": twice,
            "problems": problems[:20],
            "problem_count": len(problems),
        }
        print(json.dumps(report), flush=True)
        return 1 if problems else 0
    finally:
        for runner in runners:
            runner.send_signal(signal.SIGKILL)
            runner.wait()
        stop_server(server)
        store.drop()


if __name__ == "__main__":
    sys.exit(main())
