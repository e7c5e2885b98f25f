"""API tokens with the unmodified tilebox-workflows client: the right token runs the Tracing page's
example end to end (gRPC calls and the OTLP spans and logs its runner sends), a wrong or missing one
is refused clearly and stores nothing."""

import sys
from collections import Counter
from pathlib import Path

import pytest
import requests
from _tilebox.grpc.error import AuthenticationError
from conftest import API_TOKEN
from tilebox.workflows import Client
from tilebox.workflows.data import JobState

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "python"))
from process_scene import ProcessScene  # noqa: E402

from test_workflows import wait_for_spans  # noqa: E402


def test_client_with_the_token_runs_the_tracing_example(token_server, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORT_INTERVAL", "0.5s")
    client = Client(url=token_server.url, token=API_TOKEN)
    job = client.jobs().submit("process-scene", ProcessScene(scene_id="S2A_001"))
    client.runner(tasks=[ProcessScene]).run_all()
    expected = {"job/process-scene": 1, "task/ProcessScene": 1, "download-scene": 1, "compute-index": 1}
    spans = wait_for_spans(client, job, expected)
    assert Counter(span.name for span in spans) == expected, "the runner's OTLP export got in with the token"
    assert client.jobs().find(job.id).state == JobState.COMPLETED
    listed = requests.get(
        f"{token_server.url}/api/v1/jobs", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10
    )
    assert listed.status_code == 200
    assert [j["name"] for j in listed.json()["jobs"]] == ["process-scene"]


def test_wrong_or_missing_token_is_refused_and_stores_nothing(token_server):
    wrong = Client(url=token_server.url, token="not-the-token-0123456789")
    with pytest.raises(AuthenticationError):
        wrong.jobs().submit("process-scene", ProcessScene(scene_id="S2A_001"))
    anonymous = requests.get(f"{token_server.url}/api/v1/jobs", timeout=10)
    assert anonymous.status_code == 401
    assert "token" in anonymous.json()["error"]
    otlp = requests.post(
        f"{token_server.url}/v1/traces", data=b"{}", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert otlp.status_code == 401
    listed = requests.get(
        f"{token_server.url}/api/v1/jobs", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10
    )
    assert listed.json()["jobs"] == []
    assert requests.get(f"{token_server.url}/healthz", timeout=10).status_code == 200
