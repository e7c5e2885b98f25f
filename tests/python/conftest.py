"""Starts the real `jobtrace` binary on a fresh SQLite file or PostgreSQL database per test."""

import os
import socket
import subprocess
import time
import uuid

import pytest
import requests

BIN = os.environ.get("JOBTRACE_BIN", os.path.join(os.path.dirname(__file__), "../../target/release/jobtrace"))
PG_ADMIN_URL = os.environ.get("JOBTRACE_TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True)


class Server:
    def __init__(self, url: str, process: subprocess.Popen, log_path: str):
        self.url = url
        self.process = process
        self.log_path = log_path

    def api(self, path: str, **params):
        response = requests.get(f"{self.url}{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def wait_until_healthy(url: str, process: subprocess.Popen, log=lambda: "") -> None:
    """Waits (30 s at most) for `url`'s /healthz to answer 200; raises with the log if the process
    exits or the time runs out."""
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            # Refused, or accepted by the socket and not answered yet (the server binds its
            # socket before it has opened the store).
            pass
        if process.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"jobtrace did not start:\n{log()}")
        time.sleep(0.1)


def launch(
    tmp_path, database_url: str, *extra: str, held: socket.socket | None = None
) -> tuple[Server, subprocess.Popen]:
    """Starts `jobtrace serve` on a free port and waits for /healthz. With `held`, a listening socket
    the test keeps open, the server serves that one instead, passed as systemd does (fd 3,
    LISTEN_FDS=1, LISTEN_PID): the socket outlives the server, as under socket activation."""
    # Short leases so a killed runner's task returns to the queue within the test.
    serve = [BIN, "serve", "--database-url", database_url, "--task-lease-secs", "3", "--runner-idle-ms", "200"]
    if held is None:
        port = free_port()
        command = [*serve, "--addr", f"127.0.0.1:{port}", *extra]
        pass_fds = ()
    else:
        port = held.getsockname()[1]
        fd = held.fileno()
        to_fd_3 = "" if fd == 3 else f"3<&{fd} {fd}<&-"
        command = ["bash", "-c", f'export LISTEN_FDS=1 LISTEN_PID=$$; exec "$@" {to_fd_3}', "bash", *serve, *extra]
        pass_fds = (fd,)
    log_path = str(tmp_path / "server.log")
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            cwd=os.path.join(os.path.dirname(__file__), "../.."),
        )
    url = f"http://127.0.0.1:{port}"
    server = Server(url, process, log_path)
    wait_until_healthy(url, process, server.log)
    return server, process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    """A fresh store's URL: a SQLite file in the test's folder, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'jobtrace.db'}"
        return
    name = f"jobtrace_py_{uuid.uuid4().hex}"
    psql(f"CREATE DATABASE {name}")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def server(database, tmp_path):
    server, process = launch(tmp_path, database)
    yield server
    stop(process)


API_TOKEN = "py-test-token-0123456789abcdef"


@pytest.fixture
def token_server(tmp_path):
    """A server (SQLite) that requires the API token `API_TOKEN`."""
    server, process = launch(tmp_path, f"sqlite:{tmp_path / 'jobtrace.db'}", "--api-token", API_TOKEN)
    yield server
    stop(process)
