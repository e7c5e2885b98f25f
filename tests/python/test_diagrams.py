"""Job diagrams with the unmodified client: `client.jobs().visualize(job)` answers the job's task
graph as one SVG document (subtasks inside their parent, `depends_on` as arrows, the direction
honoured, alike siblings beyond 12 counted in one box, labels escaped)."""

import uuid
import xml.etree.ElementTree as ET

import pytest
import requests

from tilebox.workflows.data import JobState

from test_workflows import assert_job_state, client, run_all  # noqa: F401  (client: a fixture)
from workflow_tasks import LabelledFanOut, SumOfProduced

SVG = "{http://www.w3.org/2000/svg}"


def boxes(svg: str) -> dict[str, list[dict]]:
    """The diagram's boxes by label: each its rectangle, its detail line and its tooltip."""
    root = ET.fromstring(svg)  # one well-formed document, or this raises
    assert root.tag == f"{SVG}svg"
    found: dict[str, list[dict]] = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("data-node") is None:
            continue
        rect = group.find(f"{SVG}rect")
        label, detail = [text.text or "" for text in group.findall(f"{SVG}text")]
        box = {
            "x": float(rect.get("x")),
            "y": float(rect.get("y")),
            "w": float(rect.get("width")),
            "h": float(rect.get("height")),
            "detail": detail,
            "title": group.find(f"{SVG}title").text,
            "class": group.get("class"),
        }
        found.setdefault(label, []).append(box)
    return found


def inside(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"]
        and inner["y"] >= outer["y"]
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"]
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"]
    )


def test_visualize_draws_subtasks_inside_their_parent_and_the_fan_in_after_them(server, client, tmp_path):
    folder = tmp_path / "numbers"
    folder.mkdir()
    job = client.jobs().submit("diagram", SumOfProduced(folder=str(folder), count=5))
    run_all(server, tmp_path, "SumOfProduced", "ProduceNumbers", "ProduceNumber", "PrintSum")
    assert_job_state(server, client, job, JobState.COMPLETED)

    svg = client.jobs().visualize(job)
    found = boxes(svg)
    assert sorted(found) == ["PrintSum", "ProduceNumber", "ProduceNumbers", "SumOfProduced"], found
    root, produce, total = found["SumOfProduced"][0], found["ProduceNumbers"][0], found["PrintSum"][0]
    numbers = found["ProduceNumber"]
    # Each box tells its task by its input (in full in its tooltip).
    assert sorted(box["title"].rsplit("number=", 1)[1] for box in numbers) == ["1", "2", "3", "4", "5"]
    assert all(inside(box, produce) for box in numbers)
    assert inside(produce, root) and inside(total, root)
    assert all("graph__node--computed" in box["class"] for boxes_ in found.values() for box in boxes_)
    # PrintSum depends on ProduceNumbers: one arrow, and by default it points down.
    assert svg.count('class="graph__edge"') == 1
    assert total["y"] >= produce["y"] + produce["h"]

    right = boxes(client.jobs().visualize(job, direction="right"))
    produce, total = right["ProduceNumbers"][0], right["PrintSum"][0]
    assert total["x"] >= produce["x"] + produce["w"]

    # The same drawing over REST, for a link or an <img>; a direction it does not know is a 400.
    answer = requests.get(f"{server.url}/api/v1/jobs/{job.id}/graph", params={"direction": "right", "title": "1"}, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    assert boxes(answer.text).keys() == right.keys()
    assert ">diagram</text>" in answer.text  # the job's name as its title
    answer = requests.get(f"{server.url}/api/v1/jobs/{job.id}/graph", params={"direction": "sideways"}, timeout=10)
    assert answer.status_code == 400 and "sideways" in answer.json()["error"]


def test_visualize_shows_what_a_task_named_itself_as_text_and_counts_a_large_fan_out(server, client, tmp_path):
    label = "<script>alert('&')</script>"  # 28 characters: shown uncut
    job = client.jobs().submit("diagram-labels", LabelledFanOut(label=label, folder=str(tmp_path), count=30))
    run_all(server, tmp_path, "LabelledFanOut", "ProduceNumber")
    assert_job_state(server, client, job, JobState.COMPLETED)

    svg = client.jobs().visualize(job)
    assert "<script" not in svg
    found = boxes(svg)
    assert label in found, found.keys()  # the markup, read back as text
    group = found["ProduceNumber × 30"][0]
    assert group["detail"] == "30 computed"
    assert "graph__node--computed" in group["class"]
    assert inside(group, found[label][0])


def test_visualize_an_unknown_job_is_not_found(server, client):
    from _tilebox.grpc.error import NotFoundError

    with pytest.raises(NotFoundError):
        client.jobs().visualize(uuid.uuid4())
