"""A job's spans and logs exported as CSV, Parquet and Arrow read back with pandas, equal to the
JSON answer; the Tilebox client's columns."""

import io
import json

import pandas as pd
import pyarrow.ipc
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

SPAN_COLUMNS = [
    "start_time", "end_time", "trace_id", "span_id", "parent_span_id", "name", "status_code",
    "status_message", "attributes", "runner_attributes", "events", "duration",
]
LOG_COLUMNS = [
    "time", "severity_number", "severity_text", "body", "trace_id", "span_id", "attributes",
    "runner_attributes",
]


def seed(server) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": "export-test"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    tracer = provider.get_tracer("exports")
    with tracer.start_as_current_span("job/export-job") as root:
        for i in range(5):
            with tracer.start_as_current_span(f"tile-{i}") as span:
                span.set_attribute("tile", i)
                if i == 3:
                    span.set_status(Status(StatusCode.ERROR, "tile broken"))
    provider.force_flush()
    provider.shutdown()
    trace_id = format(root.get_span_context().trace_id, "032x")
    logs = {
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "export-test"}}]},
            "scopeLogs": [{"logRecords": [
                {"timeUnixNano": str(1_700_000_000_000_000_000 + i), "severityNumber": 9 + 4 * (i % 2),
                 "severityText": "INFO" if i % 2 == 0 else "WARN", "body": {"stringValue": f"line {i}, \"quoted\""},
                 "traceId": trace_id}
                for i in range(4)
            ]}],
        }]
    }
    response = requests.post(f"{server.url}/v1/logs", json=logs, timeout=10)
    response.raise_for_status()
    return trace_id


def test_span_exports_match_json(server):
    trace_id = seed(server)
    url = f"{server.url}/api/v1/jobs/{trace_id}/spans"
    expected = server.api(f"/api/v1/jobs/{trace_id}/spans")["spans"]
    assert len(expected) == 6

    frames = {
        "parquet": pd.read_parquet(f"{url}?format=parquet"),
        "arrow": pyarrow.ipc.open_file(io.BytesIO(requests.get(f"{url}?format=arrow", timeout=10).content)).read_pandas(),
        "csv": pd.read_csv(f"{url}?format=csv", keep_default_na=False),
    }
    for fmt, df in frames.items():
        assert list(df.columns) == SPAN_COLUMNS, fmt
        assert list(df["span_id"]) == [s["span_id"] for s in expected], fmt
        assert list(df["name"]) == [s["name"] for s in expected], fmt
        assert list(df["status_code"]) == [s["status_code"] for s in expected], fmt
        assert [json.loads(a) for a in df["attributes"]] == [s["attributes"] for s in expected], fmt
        assert [json.loads(a)["service.name"] for a in df["runner_attributes"]] == ["export-test"] * 6, fmt
        starts = pd.to_datetime(df["start_time"], utc=True)
        assert list(starts) == [pd.Timestamp(s["start_time"]) for s in expected], fmt
    typed = frames["parquet"]
    assert str(typed["start_time"].dtype) == "datetime64[ns, UTC]"
    assert str(typed["duration"].dtype) == "timedelta64[ns]"
    durations = [d.total_seconds() for d in typed["duration"]]
    assert durations == [s["duration"] for s in expected]
    root = typed[typed["name"] == "job/export-job"].iloc[0]
    assert pd.isna(root["parent_span_id"]), "a root span has no parent"
    assert typed[typed["name"] == "tile-3"].iloc[0]["status_message"] == "tile broken"


def test_log_exports_match_json_and_filters(server):
    trace_id = seed(server)
    url = f"{server.url}/api/v1/jobs/{trace_id}/logs"
    expected = server.api(f"/api/v1/jobs/{trace_id}/logs")["logs"]
    assert len(expected) == 4
    parquet = pd.read_parquet(f"{url}?format=parquet")
    csv = pd.read_csv(f"{url}?format=csv", keep_default_na=False)
    for fmt, df in {"parquet": parquet, "csv": csv}.items():
        assert list(df.columns) == LOG_COLUMNS, fmt
        assert list(df["body"]) == [log["body"] for log in expected], fmt
        assert list(df["severity_number"]) == [log["severity_number"] for log in expected], fmt
    warnings = pd.read_parquet(f"{url}?format=parquet&severity=warn")
    assert list(warnings["severity_text"]) == ["WARN", "WARN"]
