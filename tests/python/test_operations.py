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
