"""Dependency and optional-task semantics, and progress indicators, as the Tilebox docs define them, with the unmodified client:
a task counts as done only once it and all its subtasks are computed; a failure below an optional
task stays inside it (FAILED_OPTIONAL, the rest of that subtree SKIPPED) and its dependents still run."""

from pathlib import Path

from tilebox.workflows.data import JobState

from test_workflows import assert_job_state, client, run_all  # noqa: F401  (client: a fixture)
from workflow_tasks import Pipeline, ProgressRoot, SumOfProduced


def test_fan_in_waits_for_the_subtasks_of_its_dependency(server, client, tmp_path):
    """The caches page's example: the sum runs after every produced number (it read 0 before)."""
    folder = tmp_path / "numbers"
    folder.mkdir()
    job = client.jobs().submit("fan-in", SumOfProduced(folder=str(folder), count=5))
    run_all(server, tmp_path, "SumOfProduced", "ProduceNumbers", "ProduceNumber", "PrintSum")
    assert_job_state(server, client, job, JobState.COMPLETED)
    assert (folder / "sum").read_text() == "15"


def test_failure_inside_an_optional_task_skips_its_subtree_and_the_job_completes(server, client, tmp_path):
    folder = tmp_path / "pipeline"
    folder.mkdir()
    job = client.jobs().submit("nested-optional", Pipeline(folder=str(folder)))
    run_all(server, tmp_path, "Pipeline", "OptionalProcessing", "Step1", "WriteMarker", "AlwaysFails")
    assert_job_state(server, client, job, JobState.COMPLETED)
    assert sorted(path.name for path in Path(folder).iterdir()) == ["final", "step1a"]

    tasks = server.api(f"/api/v1/jobs/{job.id}/tasks")["tasks"]
    states = sorted((task["display"], task["state"]) for task in tasks)
    assert ("AlwaysFails", "FAILED_OPTIONAL") in states
    assert [state for display, state in states if display == "WriteMarker"].count("SKIPPED") == 2
    assert sum(state == "COMPUTED" for _, state in states) == 5  # Pipeline, OptionalProcessing, Step1, step1a, final


def test_progress_indicators_are_summed_per_label_and_returned_with_the_job(server, client, tmp_path):
    job = client.jobs().submit("progress", ProgressRoot(count=3))
    run_all(server, tmp_path, "ProgressRoot", "ProgressLeaf")
    assert_job_state(server, client, job, JobState.COMPLETED)
    progress = sorted(client.jobs().find(job.id).progress, key=lambda p: p.label or "")
    assert [(p.label, p.total, p.done) for p in progress] == [(None, 3, 3), ("tiles", 3, 3)]
    # The job list carries them too (the dashboard's list draws them as bars).
    listed = next(j for j in server.api("/api/v1/jobs", name="progress")["jobs"] if j["id"] == str(job.id))
    assert [(p["label"], p["total"], p["done"]) for p in listed["tasks"]["progress"]] == [("", 3, 3), ("tiles", 3, 3)]
