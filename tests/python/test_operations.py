"""What an operator relies on: `--log-format json` writes one JSON object per line, and every answer
carries a request id (the client's own when it sent a sensible one)."""

import json
import uuid

import requests
from conftest import launch, stop


def test_json_logs_and_request_ids(tmp_path):
    server, process = launch(tmp_path, f"sqlite:{tmp_path / 'jobtrace.db'}", "--log-format", "json")
    try:
        mine = requests.get(f"{server.url}/healthz", headers={"x-request-id": "deploy-check-7"}, timeout=10)
        assert mine.headers["x-request-id"] == "deploy-check-7"
        fresh = requests.get(f"{server.url}/api/v1/jobs", timeout=10)
        assert uuid.UUID(fresh.headers["x-request-id"])
        hostile = requests.get(f"{server.url}/healthz", headers={"x-request-id": "x" * 65}, timeout=10)
        assert uuid.UUID(hostile.headers["x-request-id"]), "an overlong id is replaced, not echoed"
    finally:
        stop(process)
    lines = [line for line in server.log().splitlines() if line.strip()]
    assert lines, "the server logged its start"
    for line in lines:
        entry = json.loads(line)
        assert {"timestamp", "level", "fields"} <= entry.keys(), entry
    assert any(json.loads(line)["fields"].get("message") == "jobtrace is serving" for line in lines), lines


def test_the_binary_runs_from_an_empty_directory_with_only_its_site(tmp_path):
    """The container's layout: the binary and the built site in an otherwise empty place, the store in
    its own folder, configured only through the image's environment variables."""
    import os
    import shutil
    import subprocess

    from conftest import BIN, free_port, wait_until_healthy

    root = os.path.join(os.path.dirname(__file__), "../..")
    image = tmp_path / "image"
    (image / "bin").mkdir(parents=True)
    shutil.copy(BIN, image / "bin" / "jobtrace")
    shutil.copytree(os.path.join(root, "target/site"), image / "site")
    (tmp_path / "data").mkdir()
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "JOBTRACE_ADDR": f"127.0.0.1:{port}",
        "JOBTRACE_DATABASE_URL": f"sqlite:{tmp_path / 'data' / 'jobtrace.db'}",
        "JOBTRACE_SITE_ROOT": str(image / "site"),
        "JOBTRACE_LOG_FORMAT": "json",
    }
    empty = tmp_path / "cwd"
    empty.mkdir()
    process = subprocess.Popen(
        [str(image / "bin" / "jobtrace"), "serve"], cwd=empty, env=env, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and "/pkg/jobtrace.js" in page.text
        for asset in ["/pkg/jobtrace.js", "/pkg/jobtrace.wasm", "/pkg/jobtrace.css", "/favicon.svg"]:
            assert requests.get(f"{url}{asset}", timeout=10).status_code == 200, asset
        assert (tmp_path / "data" / "jobtrace.db").exists()
        assert list(empty.iterdir()) == [], "nothing written where it was started"
    finally:
        process.terminate()
        process.wait(timeout=10)
