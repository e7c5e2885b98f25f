"""Acknowledged is durable: the server is killed with SIGKILL while 24 OTLP senders keep sending;
after a restart every span whose request got a 2xx is there, no request is half stored, and the
SQLite file passes its integrity check. Then `jobtrace backup` and `jobtrace prune` as an operator
runs them, against the store a server is using."""

import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid

import requests
from conftest import BIN, launch, stop

SENDERS = 24
SPANS_PER_REQUEST = 50


def request_of(trace_id: str, start_ns: int) -> dict:
    spans = [
        {
            "traceId": trace_id,
            "spanId": f"{i + 1:016x}",
            "name": f"work-{i}",
            "kind": 1,
            "startTimeUnixNano": str(start_ns + i * 1000),
            "endTimeUnixNano": str(start_ns + i * 1000 + 500),
        }
        for i in range(SPANS_PER_REQUEST)
    ]
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}


def send_until_refused(url: str, acked: list, stop_event: threading.Event) -> None:
    """Sends one new trace per request until the server stops answering; records what got a 2xx."""
    session = requests.Session()
    while not stop_event.is_set():
        trace_id = uuid.uuid4().hex
        try:
            answer = session.post(f"{url}/v1/traces", json=request_of(trace_id, time.time_ns()), timeout=5)
        except requests.RequestException:
            return
        if 200 <= answer.status_code < 300:
            acked.append(trace_id)


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path, database):
    server, process = launch(tmp_path, database)
    acked: list[str] = []
    stop_event = threading.Event()
    senders = [
        threading.Thread(target=send_until_refused, args=(server.url, acked, stop_event), daemon=True)
        for _ in range(SENDERS)
    ]
    for sender in senders:
        sender.start()
    deadline = time.time() + 30
    while len(acked) < 200 and time.time() < deadline:
        time.sleep(0.05)
    assert len(acked) >= 200, f"only {len(acked)} requests acknowledged:\n{server.log()[-2000:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    stop_event.set()
    for sender in senders:
        sender.join(timeout=10)
    acknowledged = set(acked)

    if database.startswith("sqlite:"):
        path = database.removeprefix("sqlite:")
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            counts = dict(conn.execute("SELECT lower(hex(trace_id)), count(*) FROM spans GROUP BY trace_id"))
    else:
        counts = None

    server, process = launch(tmp_path, database)
    try:
        if counts is None:
            counts = {}
            cursor = None
            while True:
                params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                page = server.api("/api/v1/jobs", **params)
                counts.update({job["trace_id"]: job["span_count"] for job in page["jobs"]})
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        missing = [trace for trace in acknowledged if counts.get(trace) != SPANS_PER_REQUEST]
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests lost or cut"
        half = {trace: n for trace, n in counts.items() if n != SPANS_PER_REQUEST}
        assert not half, f"requests stored in part: {half}"
        # The restarted server takes new requests.
        again = requests.post(f"{server.url}/v1/traces", json=request_of(uuid.uuid4().hex, time.time_ns()), timeout=10)
        assert again.status_code == 200
    finally:
        stop(process)


def jobtrace(*args: str) -> str:
    done = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_backup_of_a_serving_store_and_prune_of_old_jobs(tmp_path):
    database = f"sqlite:{tmp_path / 'jobtrace.db'}"
    server, process = launch(tmp_path, database)
    try:
        day_ns = 86_400 * 10**9
        old = uuid.uuid4().hex
        assert requests.post(f"{server.url}/v1/traces", json=request_of(old, time.time_ns() - 40 * day_ns), timeout=10).ok
        acked: list[str] = []
        stop_event = threading.Event()
        senders = [
            threading.Thread(target=send_until_refused, args=(server.url, acked, stop_event), daemon=True)
            for _ in range(4)
        ]
        for sender in senders:
            sender.start()
        deadline = time.time() + 30
        while len(acked) < 20:
            assert time.time() < deadline, server.log()[-2000:]
            time.sleep(0.05)
        before = set(acked)
        copy = tmp_path / "backup.db"
        said = jobtrace("backup", "--database-url", database, str(copy))
        assert "backed up" in said
        stop_event.set()
        for sender in senders:
            sender.join(timeout=10)
        assert len(acked) > len(before), "ingest went on during the backup"

        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            traces = {row[0] for row in conn.execute("SELECT lower(hex(trace_id)) FROM jobs")}
        assert before | {old} <= traces

        # A second server opens the backup as a store of its own.
        (tmp_path / "restored").mkdir()
        restored, restored_process = launch(tmp_path / "restored", f"sqlite:{copy}")
        try:
            assert restored.api(f"/api/v1/jobs/{old}")["span_count"] == SPANS_PER_REQUEST
        finally:
            stop(restored_process)

        # Prune what ended more than 30 days ago, while the server keeps serving the store.
        said = jobtrace("prune", "--database-url", database, "--older-than", "30d")
        assert said.startswith("pruned 1 jobs"), said
        assert requests.get(f"{server.url}/api/v1/jobs/{old}", timeout=10).status_code == 404
        kept = server.api(f"/api/v1/jobs/{acked[0]}")
        assert kept["span_count"] == SPANS_PER_REQUEST

        bad = subprocess.run([BIN, "prune", "--database-url", database, "--older-than", "30"], capture_output=True, text=True)
        assert bad.returncode != 0 and "needs a unit" in bad.stderr
        missing = f"sqlite:{tmp_path / 'typo.db'}"
        bad = subprocess.run([BIN, "prune", "--database-url", missing, "--older-than", "30d"], capture_output=True, text=True)
        assert bad.returncode != 0 and "not found" in bad.stderr, bad.stderr
        assert not (tmp_path / "typo.db").exists(), "a mistyped store is not created"
    finally:
        stop(process)
