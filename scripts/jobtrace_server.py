"""What the load, chaos, claims and memory scripts share: a free port, a fresh store for a backend, a
`jobtrace serve` process that is up (answers `/healthz`) when it is handed over, a JSON GET, and a
process's memory."""

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid

PG = os.environ.get("JOBTRACE_TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Store:
    """A fresh store: a SQLite file in `folder`, or a new PostgreSQL database dropped by `drop()`."""

    def __init__(self, backend: str, folder: str, name: str):
        self.database = None
        if backend == "sqlite":
            self.url = f"sqlite:{folder}/{name}.db"
        else:
            self.database = f"jobtrace_{name}_{uuid.uuid4().hex[:12]}"
            subprocess.run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {self.database}"], check=True)
            self.url = f"{PG}/{self.database}"

    def drop(self) -> None:
        if self.database:
            subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)"])


def api(url: str) -> dict:
    """GET `url` and parse its JSON answer (30 s at most)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def start_server(binary: str, port: int, database_url: str, extra: list[str], log) -> subprocess.Popen:
    """`jobtrace serve` on 127.0.0.1:`port`, returned once `/healthz` answers (30 s at most)."""
    server = subprocess.Popen(
        [binary, "serve", "--addr", f"127.0.0.1:{port}", "--database-url", database_url, *extra],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was up")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("the server did not come up within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's memory from /proc: `VmRSS` (resident now) or `VmHWM` (its peak), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0
