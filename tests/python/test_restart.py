"""Server restart under load: unmodified `tilebox-workflows` runners keep going while the server is
killed (SIGKILL) and stopped (SIGTERM) under them and started again, when the listening socket
outlives the server process, as under systemd socket activation (`jobtrace serve` takes a socket
passed in LISTEN_FDS; docs/DEPLOY.md). The Python client gives up on a refused connection, so with a
port the server binds itself every Python runner would end at the first restart; with the held
socket their calls wait in its backlog and the next server answers them.

Checks: every runner process is still running at the end, the job is COMPLETED, every task COMPUTED
with exactly one computed attempt, and each task ran to its end once (counted by the tasks
themselves in a tally file), or again only where an earlier attempt's lease expired."""

import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import launch, stop
from tilebox.workflows import Client

import workflow_tasks

HERE = Path(__file__).parent
RUNNERS = 4
TASKS = 400
WORK_SECONDS = 0.05
# How the server goes down, in turn; it stays down for DOWN_SECONDS each time.
STOPS = [signal.SIGKILL, signal.SIGTERM, signal.SIGKILL]
DOWN_SECONDS = 1.5


def computed(server, job_id) -> int:
    return server.api(f"/api/v1/jobs/{job_id}").get("tasks", {}).get("computed", 0)


def test_python_runners_keep_going_across_server_restarts(tmp_path, database):
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1024)
    server, process = launch(tmp_path, database, held=held)
    tally = tmp_path / "tally"
    tally.touch()
    env = dict(os.environ, OTEL_EXPORT_INTERVAL="1s", PYTHONUNBUFFERED="1")
    env.pop("TILEBOX_RUNTIME_ID", None)
    runners = []
    try:
        for index in range(RUNNERS):
            log = open(tmp_path / f"runner-{index}.log", "w")
            runners.append(
                subprocess.Popen(
                    [sys.executable, str(HERE / "run_runner.py"), "--url", server.url, "--forever",
                     "TallyFanOut", "Tallied"],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            )
        for index, runner in enumerate(runners):
            log_path = tmp_path / f"runner-{index}.log"
            deadline = time.monotonic() + 30
            while "runner ready" not in log_path.read_text() and time.monotonic() < deadline:
                assert runner.poll() is None, log_path.read_text()
                time.sleep(0.05)

        def runner_logs() -> str:
            return "\n".join(
                f"--- runner {i} ---\n{(tmp_path / f'runner-{i}.log').read_text()[-3000:]}" for i in range(RUNNERS)
            )

        job = Client(url=server.url).jobs().submit(
            "restarts", workflow_tasks.TallyFanOut(count=TASKS, seconds=WORK_SECONDS, tally=str(tally))
        )
        for round_, how in enumerate(STOPS, start=1):
            # Let the runners get through a share of the job before each stop.
            target = round_ * TASKS // (len(STOPS) + 1)
            deadline = time.monotonic() + 60
            while computed(server, job.id) < target:
                assert time.monotonic() < deadline, f"stuck below {target} computed\n{runner_logs()}"
                time.sleep(0.05)
            os.kill(process.pid, how)
            process.wait(timeout=30)
            time.sleep(DOWN_SECONDS)
            dead = [i for i, runner in enumerate(runners) if runner.poll() is not None]
            assert not dead, f"runners {dead} ended while the server was down ({how.name})\n{runner_logs()}"
            server, process = launch(tmp_path, database, held=held)

        deadline = time.monotonic() + 120
        while True:
            state = server.api(f"/api/v1/jobs/{job.id}")["state"]
            if state in ("COMPLETED", "FAILED", "CANCELED") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert state == "COMPLETED", f"job is {state}\n{runner_logs()}\n{server.log()[-3000:]}"
        dead = [i for i, runner in enumerate(runners) if runner.poll() is not None]
        assert not dead, f"runners {dead} ended\n{runner_logs()}"

        tasks = server.api(f"/api/v1/jobs/{job.id}/tasks")["tasks"]
        tallied = [task for task in tasks if task["identifier_name"] == "Tallied"]
        assert len(tallied) == TASKS
        executions = collections.Counter(line for line in tally.read_text().split() if line)
        problems = []
        for task in tasks:
            outcomes = [attempt["outcome"] for attempt in task["attempts"]]
            if task["state"] != "COMPUTED" or outcomes.count("computed") != 1:
                problems.append(f"task {task['id']} is {task['state']} with attempts {outcomes}")
        for task in tallied:
            ran = executions.get(task["id"], 0)
            expired = [attempt["outcome"] for attempt in task["attempts"]].count("lease expired")
            if not 1 <= ran <= 1 + expired:
                problems.append(f"task {task['id']} ran to its end {ran} times with {expired} expired leases")
        assert not problems, "\n".join(problems[:20])
    finally:
        for runner in runners:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
        stop(process)
        held.close()
