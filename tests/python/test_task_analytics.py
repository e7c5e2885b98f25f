"""Task analytics across runs with the unmodified client's runners: every attempt the runners
ran is counted once per task identifier and version (failures included), with queue wait and
duration percentiles, in `/api/v1/tasks` (JSON and Parquet) and `/api/v1/tasks/{identifier}`,
whose slowest runs name their job, task and attempt."""

import io

import pyarrow.parquet as pq
import requests

from tilebox.workflows.data import JobState

from test_workflows import assert_job_state, client, run_all, wait_for  # noqa: F401  (client: a fixture)
from workflow_tasks import FanOut, FlakyTask

SLEEP_SECONDS = 0.2


def test_task_analytics_count_every_attempt_once_with_its_percentiles(server, client, tmp_path):
    flaky = client.jobs().submit("flaky", FlakyTask(marker=str(tmp_path / "attempted")), max_retries=1)
    fan = client.jobs().submit("fan", FanOut(count=6, seconds=SLEEP_SECONDS))
    run_all(server, tmp_path, "FlakyTask", "FanOut", "Sleep", "Collect")
    assert_job_state(server, client, flaky, JobState.COMPLETED)
    assert_job_state(server, client, fan, JobState.COMPLETED)

    # Ten attempts: FlakyTask twice (the first failed), FanOut, six Sleeps, Collect. The roll-up
    # runs every second.
    analytics = wait_for(
        "ten attempts in /api/v1/tasks",
        lambda: server.api("/api/v1/tasks", days=1),
        lambda a: sum(t["stats"]["executions"] for t in a["tasks"]) >= 10,
    )
    by_name = {task["name"]: task for task in analytics["tasks"]}
    assert sorted(by_name) == ["Collect", "FanOut", "FlakyTask", "Sleep"], by_name.keys()
    counts = {name: (t["stats"]["executions"], t["stats"]["failed"]) for name, t in by_name.items()}
    assert counts == {"Collect": (1, 0), "FanOut": (1, 0), "FlakyTask": (2, 1), "Sleep": (6, 0)}, counts
    assert analytics["tasks"][0]["name"] == "Sleep", "most runs first"
    sleep = by_name["Sleep"]
    # Each Sleep ran 0.2 s: the histogram's percentiles are within 5 % of what ran (and the
    # runner's own overhead on top).
    assert SLEEP_SECONDS * 0.95e9 <= sleep["stats"]["duration"]["p50_ns"] < 5e9, sleep
    assert sleep["stats"]["queue_wait"]["p50_ns"] is not None
    assert [v["version"] for v in sleep["versions"]] == ["v0.0"]
    assert sleep["days"][-1]["stats"]["executions"] == 6

    # One identifier in detail: its slowest runs name their job, task and attempt, and link to
    # the job page with that attempt selected.
    detail = server.api("/api/v1/tasks/FlakyTask", days=1)
    runs = detail["slowest"]
    assert sorted((r["attempt"], r["failed"]) for r in runs) == [(1, True), (2, False)], runs
    assert {r["job_id"] for r in runs} == {str(flaky.id)}
    tasks = server.api(f"/api/v1/jobs/{flaky.id}/tasks")["tasks"]
    assert {r["task_id"] for r in runs} == {tasks[0]["id"]}, tasks
    page = requests.get(f"{server.url}/jobs/{flaky.id}?task={runs[0]['task_id']}&attempt=1", timeout=10)
    assert page.status_code == 200

    # The same figures as a Parquet table: one row per identifier, version and day.
    response = requests.get(f"{server.url}/api/v1/tasks", params={"days": 1, "format": "parquet"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content)).to_pylist()
    rows = {row["task"]: row for row in table}
    assert (rows["FlakyTask"]["executions"], rows["FlakyTask"]["failed"]) == (2, 1)
    assert rows["Sleep"]["duration_p50"].total_seconds() >= SLEEP_SECONDS * 0.95

    # The pages render the same.
    listing = requests.get(f"{server.url}/tasks?days=1", timeout=10)
    assert listing.status_code == 200 and 'data-task="FlakyTask"' in listing.text
    one = requests.get(f"{server.url}/tasks/FlakyTask?days=1", timeout=10)
    assert one.status_code == 200 and "Slowest runs" in one.text


def test_task_analytics_refuse_bad_windows_and_unknown_tasks(server):
    for params in ({"days": 0}, {"days": 91}, {"days": "a week"}, {"format": "xlsx"}):
        response = requests.get(f"{server.url}/api/v1/tasks", params=params, timeout=10)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"], response.text
    missing = requests.get(f"{server.url}/api/v1/tasks/NoSuchTask", timeout=10)
    assert missing.status_code == 404, missing.text
    page = requests.get(f"{server.url}/tasks/NoSuchTask", timeout=10)
    assert page.status_code == 404
