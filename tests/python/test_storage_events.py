"""Storage-event automations with the unmodified client: `client.storage_locations().create(…,
LocalReference(path))` names a folder under the server's `--watch-root`;
`client.automations().create_storage_event_automation(…, (location, glob))` submits the task once
for each new file whose path matches, as a `StorageEventTask` that reads the file through its
location; files there before the automation, files that do not match and files still being
written do not fire (yet); a file written while the server was down fires after it starts;
`NotifyObjectCreated` through a subscription reports objects of any location (an S3 bucket
here); events are listed with the jobs they triggered; `UpdateAutomation` changes what fires.
Both backends."""

import time
from pathlib import Path

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty

from tilebox.datasets.query.pagination import Pagination
from tilebox.datasets.uuid import uuid_to_uuid_message
from tilebox.workflows.storage_locations import AWSS3BucketReference, LocalReference, StorageType
from tilebox.workflows.storage_locations.service import StorageLocationService
from tilebox.workflows.workflows.v1 import storage_location_pb2 as pb
from tilebox.workflows.workflows.v1.automation_pb2_grpc import AutomationServiceStub
from tilebox.workflows.workflows.v1.storage_location_pb2_grpc import StorageLocationServiceStub

from conftest import launch, stop
from test_workflows import client, run_all  # noqa: F401  (client: a fixture)
from tilebox.workflows import Client
from workflow_tasks import RecordArrival


def events_of(client: Client, location) -> list:
    service = StorageLocationService(client._storage_location_service)  # noqa: SLF001
    return service.list_events(location.id, Pagination(limit=100)).events


def wait_for_events(client: Client, location, count: int, timeout: float = 20) -> list:
    deadline = time.monotonic() + timeout
    while True:
        events = events_of(client, location)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


@pytest.fixture
def watched(database, tmp_path):
    """A server watching `tmp_path/watched`, and that folder."""
    folder = tmp_path / "watched"
    folder.mkdir()
    server, process = launch(tmp_path, database, "--watch-root", str(folder))
    yield server, process, folder
    stop(process)


def test_a_new_file_in_a_watched_folder_runs_its_task_once(database, watched, tmp_path):
    server, process, folder = watched
    client = Client(url=server.url)
    landing = folder / "landing"
    (landing / "2026").mkdir(parents=True)
    (landing / "2026" / "before.tif").write_text("old")  # there before the automation: no event
    location = client.storage_locations().create("landing", LocalReference(str(landing)))
    assert location.type == StorageType.LOCAL and location.location == str(landing)
    assert client.storage_locations().find(location.id).name == "landing"
    assert client.storage_locations().update(location, "landing zone").name == "landing zone"
    assert [l.id for l in client.storage_locations().all()] == [location.id]

    out = tmp_path / "out"
    out.mkdir()
    automation = client.automations().create_storage_event_automation(
        "record-tifs", RecordArrival(folder=str(out)), (location, "**/*.tif")
    )
    [trigger] = automation.storage_event_triggers
    assert (trigger.glob_pattern, trigger.storage_location.id) == ("**/*.tif", location.id)
    assert client.automations().find(automation.id).storage_event_triggers[0].glob_pattern == "**/*.tif"

    time.sleep(1.2)  # the old file is listed at least once: it stays quiet
    (landing / "2026" / "scene-1.tif").write_text("first")
    (landing / "notes.txt").write_text("not a tif")
    (landing / "scene-2.tif").write_text("second")
    events = wait_for_events(client, location, 2)
    assert sorted(e.object_key for e in events) == ["2026/scene-1.tif", "scene-2.tif"], server.log()[-3000:]
    assert all(len(e.triggered_jobs) == 1 and e.triggered_jobs[0].automation_id == automation.id for e in events)
    time.sleep(2.5)  # more listings: nothing fires twice
    assert len(events_of(client, location)) == 2

    run_all(server, tmp_path, "RecordArrival")
    arrivals = sorted((out / "arrivals").read_text().splitlines())
    assert arrivals == ["2026/scene-1.tif first", "scene-2.tif second"]
    jobs = client.jobs().query(automation_ids=[automation.id])
    assert sorted(j.id for j in jobs) == sorted(e.triggered_jobs[0].job_id for e in events)

    # A file arriving while the server is down fires once it is back.
    stop(process)
    (landing / "while-down.tif").write_text("late")
    server2, process2 = launch(tmp_path, database, "--watch-root", str(folder))
    try:
        client2 = Client(url=server2.url)
        events = wait_for_events(client2, location, 3)
        assert sorted(e.object_key for e in events) == ["2026/scene-1.tif", "scene-2.tif", "while-down.tif"]
        time.sleep(2.5)
        assert len(events_of(client2, location)) == 3, "restarting fires nothing again"
        # In use: the location cannot go before its automation.
        from _tilebox.grpc.error import ArgumentError

        stub = StorageLocationServiceStub(grpc.insecure_channel(server2.url.removeprefix("http://")))
        with pytest.raises(grpc.RpcError, match="used by automation"):
            stub.DeleteStorageLocation(uuid_to_uuid_message(location.id))
        client2.automations().delete(automation)
        stub.DeleteStorageLocation(uuid_to_uuid_message(location.id))
        assert client2.storage_locations().all() == []
        with pytest.raises(ArgumentError):
            client2.storage_locations().create("relative", LocalReference("not/absolute"))
    finally:
        stop(process2)


def test_a_subscription_reports_objects_of_a_bucket(server, client, tmp_path):
    bucket = client.storage_locations().create("scenes", AWSS3BucketReference("scene-bucket", "eu-central-1"))
    assert (bucket.type, bucket.location, bucket.region) == (StorageType.AWS_S3, "scene-bucket", "eu-central-1")
    automation = client.automations().create_storage_event_automation(
        "on-s3", RecordArrival(folder=str(tmp_path)), [(bucket, "raw/*.json")]
    )
    stub = StorageLocationServiceStub(grpc.insecure_channel(server.url.removeprefix("http://")))
    with pytest.raises(grpc.RpcError, match="TILEBOX_CLI") as refused:
        stub.CreateStorageSubscription(
            pb.CreateStorageSubscriptionRequest(
                storage_location_id=uuid_to_uuid_message(bucket.id), type=pb.STORAGE_SUBSCRIPTION_TYPE_AWS_SNS
            )
        )
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    subscription = stub.CreateStorageSubscription(
        pb.CreateStorageSubscriptionRequest(
            storage_location_id=uuid_to_uuid_message(bucket.id), type=pb.STORAGE_SUBSCRIPTION_TYPE_TILEBOX_CLI
        )
    )
    listed = stub.ListStorageSubscriptions(pb.ListStorageSubscriptionsRequest(storage_location_id=uuid_to_uuid_message(bucket.id)))
    assert [s.id for s in listed.subscriptions] == [subscription.id]
    for path in ["raw/a.json", "raw/a.json", "raw/deep/b.json", "cooked/c.json"]:
        stub.NotifyObjectCreated(pb.NotifyObjectCreatedRequest(storage_subscription_id=subscription.id, object_path=path, event_time={"seconds": 1_800_000_000}))
    events = events_of(client, bucket)
    # One event per object version (the repeated report is the same one); only raw/a.json matches.
    assert sorted(e.object_key for e in events) == ["cooked/c.json", "raw/a.json", "raw/deep/b.json"]
    fired = {e.object_key: [j.automation_id for j in e.triggered_jobs] for e in events}
    assert fired == {"raw/a.json": [automation.id], "raw/deep/b.json": [], "cooked/c.json": []}
    assert len(client.jobs().query(automation_ids=[automation.id])) == 1
    for path, says in [("", "empty"), ("raw/../../etc/passwd.json", "'..'"), ("raw//a.json", "empty"), ("raw/a.json", "event_time")]:
        with pytest.raises(grpc.RpcError, match=says) as refused:
            stub.NotifyObjectCreated(pb.NotifyObjectCreatedRequest(storage_subscription_id=subscription.id, object_path=path))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # UpdateAutomation (no client method calls it): a new name and glob, the jobs stay.
    automations = AutomationServiceStub(grpc.insecure_channel(server.url.removeprefix("http://")))
    message = automation.to_message()
    message.name = "on-cooked"
    message.storage_event_triggers[0].glob_pattern = "cooked/*.json"
    updated = automations.UpdateAutomation(message)
    assert (updated.name, updated.storage_event_triggers[0].glob_pattern) == ("on-cooked", "cooked/*.json")
    assert client.automations().find(automation.id).name == "on-cooked"
    later = {"seconds": 1_800_000_100}
    stub.NotifyObjectCreated(pb.NotifyObjectCreatedRequest(storage_subscription_id=subscription.id, object_path="cooked/d.json", event_time=later))
    stub.NotifyObjectCreated(pb.NotifyObjectCreatedRequest(storage_subscription_id=subscription.id, object_path="raw/e.json", event_time=later))
    jobs = client.jobs().query(automation_ids=[automation.id])
    assert sorted(j.name for j in jobs) == ["on-cooked", "on-s3"]
    message.id.uuid = bytes(16 * [7])
    with pytest.raises(grpc.RpcError) as unknown:
        automations.UpdateAutomation(message)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    stub.DeleteStorageSubscription(subscription.id)
    with pytest.raises(grpc.RpcError) as gone:
        stub.NotifyObjectCreated(pb.NotifyObjectCreatedRequest(storage_subscription_id=subscription.id, object_path="raw/x.json"))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
