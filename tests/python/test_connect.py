"""`Client(transport="http1")`: the unmodified client speaking the Connect protocol over HTTP/1.1 to the
same port and paths as gRPC. The client with this transport sends only Connect requests (pyqwest,
HTTP/1.1, gzipped protobuf bodies) and refuses a gRPC answer, so a run that completes proves the server
answered in Connect's terms. Its lease renewer still speaks gRPC: both protocols in one run."""

import gzip
import uuid
from collections import Counter

import pytest
import requests
from _tilebox.grpc.error import AuthenticationError, NotFoundError
from conftest import API_TOKEN
from tilebox.workflows import Client
from tilebox.workflows.data import JobState
from workflow_tasks import Collect, FanOut, Sleep

from test_workflows import ProcessScene, assert_job_state, named, one, trace_id_of, wait_for_spans


def test_http1_client_runs_the_tracing_example_and_a_fan_in(server, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORT_INTERVAL", "0.5s")
    client = Client(url=server.url, transport="http1")
    job = client.jobs().submit("process-scene", ProcessScene(scene_id="S2A_001"))
    client.runner(tasks=[ProcessScene]).run_all()
    expected = {"job/process-scene": 1, "task/ProcessScene": 1, "download-scene": 1, "compute-index": 1}
    spans = wait_for_spans(client, job, expected)
    assert Counter(span.name for span in spans) == expected
    assert {span.trace_id for span in spans} == {trace_id_of(job)}
    assert one(spans, "download-scene").attributes["scene_id"] == "S2A_001"
    assert_job_state(server, client, job, JobState.COMPLETED)

    # Subtasks and depends_on over Connect: Collect runs only after the four sleeps.
    fan = client.jobs().submit("fan-in", FanOut(count=4, seconds=0.05))
    client.runner(tasks=[FanOut, Sleep, Collect]).run_all()
    assert_job_state(server, client, fan, JobState.COMPLETED)
    spans = wait_for_spans(client, fan, {"job/fan-in": 1, "task/FanOut": 1, "task/Sleep": 4, "task/Collect": 1})
    [collect] = named(spans, "task/Collect")
    assert collect.start_time >= max(span.end_time for span in named(spans, "task/Sleep"))

    # /metrics saw each of the 7 tasks claimed once and reported computed once, over Connect.
    scrape = requests.get(f"{server.url}/metrics", timeout=10).text
    assert 'jobtrace_tasks_total{event="claimed"} 7' in scrape, scrape
    assert 'jobtrace_tasks_total{event="computed"} 7' in scrape, scrape
    assert 'route="/workflows.v1.TaskService/NextTask",status="2xx"' in scrape, scrape


def test_http1_errors_are_the_clients_own_exceptions(server):
    client = Client(url=server.url, transport="http1")
    with pytest.raises(NotFoundError):
        client.jobs().find(uuid.uuid4())


def test_http1_client_with_a_wrong_token_is_refused(token_server):
    wrong = Client(url=token_server.url, token="not-the-token-0123456789", transport="http1")
    with pytest.raises(AuthenticationError, match="token"):
        wrong.jobs().submit("process-scene", ProcessScene(scene_id="S2A_001"))
    right = Client(url=token_server.url, token=API_TOKEN, transport="http1")
    job = right.jobs().submit("process-scene", ProcessScene(scene_id="S2A_001"))
    assert right.jobs().find(job.id).name == "process-scene"


def post(server, method: str, body: bytes, content_type: str = "application/proto", **headers) -> requests.Response:
    return requests.post(
        f"{server.url}/workflows.v1.JobService/{method}",
        data=body,
        headers={"Content-Type": content_type, "Connect-Protocol-Version": "1", **headers},
        timeout=30,
    )


def test_connect_requests_it_does_not_speak_get_a_connect_error_and_change_nothing(server):
    json_codec = post(server, "GetJob", b"{}", content_type="application/json")
    assert json_codec.status_code == 501
    assert json_codec.json()["code"] == "unimplemented"
    assert "application/proto" in json_codec.json()["message"]

    streaming = post(server, "GetJob", b"", content_type="application/connect+proto")
    assert streaming.status_code == 501

    # 64 MiB of zeros is 64 KiB gzipped: refused while inflating, at the 4 MiB message limit.
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    inflated = post(server, "SubmitJob", bomb, **{"Content-Encoding": "gzip"})
    assert inflated.status_code == 429
    assert inflated.json()["code"] == "resource_exhausted"

    garbage = post(server, "SubmitJob", b"\xff\xff\xff\xff")
    assert garbage.status_code >= 400
    assert garbage.json()["code"] in {"invalid_argument", "internal"}

    timeout = post(server, "GetJob", b"", **{"Connect-Timeout-Ms": "soon"})
    assert timeout.status_code == 400
    assert timeout.json()["code"] == "invalid_argument"

    assert server.api("/api/v1/jobs")["jobs"] == []
