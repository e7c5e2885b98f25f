"""Cron automations with the unmodified client: `client.automations().create_cron_automation(…)`
submits the automation's task as a job on schedule (once per tick, as `CronTask` with its trigger
time), `jobs().query(automation_ids=…)` finds those jobs, `all`/`find` list it, `delete(…,
cancel_jobs=True)` stops it and cancels its unfinished jobs; bad schedules are refused."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tilebox.workflows.data import JobState

from test_workflows import client, run_all  # noqa: F401  (client: a fixture)
from workflow_tasks import StampTrigger


def wait_for_jobs(client, automation, count: int, timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    while True:
        jobs = client.jobs().query(temporal_extent=(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)), automation_ids=[automation.id])
        if len(jobs) >= count or time.monotonic() > deadline:
            return jobs
        time.sleep(0.2)


def test_a_cron_automation_submits_its_task_on_schedule_and_stops_when_deleted(server, client, tmp_path):
    folder, by_hand = tmp_path / "automated", tmp_path / "by-hand"
    folder.mkdir()
    by_hand.mkdir()
    automations = client.automations()
    automation = automations.create_cron_automation("stamp-every-second", StampTrigger(folder=str(folder)), "* * * * * *")
    assert automation.name == "stamp-every-second"
    assert [t.schedule for t in automation.cron_triggers] == ["* * * * * *"]
    assert automations.find(automation.id).id == automation.id
    assert automation.id in [a.id for a in automations.all()]

    jobs = wait_for_jobs(client, automation, 2)
    assert len(jobs) >= 2, f"two ticks, two jobs\n{server.log()[-3000:]}"
    assert {job.name for job in jobs} == {"stamp-every-second"}
    # Other jobs are not the automation's.
    other = client.jobs().submit("by-hand", StampTrigger(folder=str(by_hand)).once())
    assert other.id not in [job.id for job in wait_for_jobs(client, automation, 0, timeout=0)]

    # A runner executes them as CronTasks that see their trigger times, one second apart.
    run_all(server, tmp_path, "StampTrigger")
    stamps = sorted(float(line) for line in (folder / "stamps").read_text().split())
    assert len(stamps) >= 2 and len(set(stamps)) == len(stamps), f"one job per tick: {stamps}"
    assert all(stamp == int(stamp) for stamp in stamps), "each a whole second, as the schedule says"
    assert len((by_hand / "stamps").read_text().split()) == 1

    # Deleted with cancel_jobs: its jobs still queued are canceled and no more are submitted.
    time.sleep(1.5)  # at least one more tick, whose job nobody runs
    automations.delete(automation, cancel_jobs=True)
    jobs = wait_for_jobs(client, automation, 0, timeout=0)
    assert any(job.state == JobState.CANCELED for job in jobs), [job.state for job in jobs]
    assert all(job.state in (JobState.COMPLETED, JobState.CANCELED) for job in jobs)
    count = len(jobs)
    time.sleep(2)
    assert len(wait_for_jobs(client, automation, 0, timeout=0)) == count
    assert automation.id not in [a.id for a in automations.all()]
    from _tilebox.grpc.error import NotFoundError

    with pytest.raises(NotFoundError):
        automations.find(automation.id)


@pytest.mark.parametrize(
    ("schedule", "says"),
    [("61 * * * *", "minute"), ("every hour", "fields"), ("0 0 30 2 *", "never fires")],
)
def test_a_bad_schedule_is_refused_and_creates_nothing(server, client, tmp_path, schedule, says):
    from _tilebox.grpc.error import ArgumentError

    with pytest.raises(ArgumentError, match=says):
        client.automations().create_cron_automation("bad", StampTrigger(folder=str(tmp_path)), schedule)
    assert client.automations().all() == []


def test_an_unknown_automation_is_not_found(server, client):
    from _tilebox.grpc.error import NotFoundError

    with pytest.raises(NotFoundError):
        client.automations().find(uuid.uuid4())
