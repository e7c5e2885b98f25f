"""The real OpenTelemetry Python SDK exports spans and logs over OTLP/HTTP and OTLP/gRPC (same port,
gzip); the API gives them back intact."""

import logging

import pytest
import requests
from conftest import API_TOKEN
from opentelemetry.exporter.otlp.proto.grpc import _log_exporter as grpc_logs
from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as grpc_traces
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from grpc import Compression as GrpcCompression
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode


def exporters(server, protocol: str, token: str | None = None):
    """The SDK's span and log exporters for `protocol`, gzipped, with the token if one is given."""
    if protocol == "http":
        headers = {"authorization": f"Bearer {token}"} if token else None
        return (
            OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", headers=headers, compression=HttpCompression.Gzip),
            OTLPLogExporter(endpoint=f"{server.url}/v1/logs", headers=headers, compression=HttpCompression.Gzip),
        )
    headers = (("authorization", f"Bearer {token}"),) if token else None
    address = server.url.removeprefix("http://")
    return (
        grpc_traces.OTLPSpanExporter(
            endpoint=address, insecure=True, headers=headers, compression=GrpcCompression.Gzip, timeout=10
        ),
        grpc_logs.OTLPLogExporter(
            endpoint=address, insecure=True, headers=headers, compression=GrpcCompression.Gzip, timeout=10
        ),
    )


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_sdk_spans_and_logs_round_trip(server, protocol):
    span_exporter, log_exporter = exporters(server, protocol)
    resource = Resource.create({"service.name": "otel-sdk-test", "service.instance.id": "worker-1"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = logging.getLogger("otel-sdk-test")
    logger.setLevel(logging.INFO)
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    logger.addHandler(handler)
    tracer = tracer_provider.get_tracer("jobtrace-tests")

    with tracer.start_as_current_span("job/sdk-job") as root:
        with tracer.start_as_current_span("download-scene") as download:
            download.set_attribute("scene_id", "S2A_001")
            download.set_attribute("bands", 13)
            logger.warning("downloading scene %s", "S2A_001")
        with tracer.start_as_current_span("compute-index") as compute:
            try:
                raise ValueError("index out of range")
            except ValueError as error:
                compute.record_exception(error)
                compute.set_status(Status(StatusCode.ERROR, "index failed"))
    tracer_provider.force_flush()
    logger_provider.force_flush()
    # The logger is process-wide: detach so the next test's server gets its own handler.
    logger.removeHandler(handler)
    logger_provider.shutdown()
    tracer_provider.shutdown()

    trace_id = format(root.get_span_context().trace_id, "032x")
    job = server.api(f"/api/v1/jobs/{trace_id}")
    assert job["name"] == "sdk-job"
    assert job["span_count"] == 3
    assert job["error_count"] == 1
    assert job["services"] == ["otel-sdk-test"]

    spans = {span["name"]: span for span in server.api(f"/api/v1/jobs/{trace_id}/spans")["spans"]}
    assert set(spans) == {"job/sdk-job", "download-scene", "compute-index"}
    root_id = spans["job/sdk-job"]["span_id"]
    assert spans["job/sdk-job"]["parent_span_id"] is None
    assert spans["download-scene"]["parent_span_id"] == root_id
    assert spans["compute-index"]["parent_span_id"] == root_id
    assert spans["download-scene"]["attributes"] == {"scene_id": "S2A_001", "bands": 13}
    assert spans["download-scene"]["runner_attributes"]["service.instance.id"] == "worker-1"
    compute = spans["compute-index"]
    assert compute["status_code"] == "STATUS_CODE_ERROR"
    assert compute["status_message"] == "index failed"
    exception = compute["events"][0]
    assert exception["name"] == "exception"
    assert exception["attributes"]["exception.type"] == "ValueError"
    assert exception["attributes"]["exception.message"] == "index out of range"
    assert "Traceback" in exception["attributes"]["exception.stacktrace"]

    logs = server.api(f"/api/v1/jobs/{trace_id}/logs")["logs"]
    assert len(logs) == 1
    assert logs[0]["body"] == "downloading scene S2A_001"
    assert logs[0]["severity_text"] == "WARN" or logs[0]["severity_text"] == "WARNING"
    assert logs[0]["span_id"] == spans["download-scene"]["span_id"]
    assert logs[0]["trace_id"] == trace_id



def finished_span(name: str):
    """One finished span as the SDK hands it to an exporter."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "token-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("jobtrace-tests").start_as_current_span(name):
        pass
    [span] = memory.get_finished_spans()
    return span


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_exporters_need_the_token_when_one_is_set(token_server, protocol):
    """With --api-token an exporter without it is refused (OTLP/gRPC: UNAUTHENTICATED, which exporters do
    not retry) and stores nothing; with it the span is stored."""
    anonymous, _ = exporters(token_server, protocol)
    trusted, _ = exporters(token_server, protocol, token=API_TOKEN)
    assert anonymous.export([finished_span("job/refused")]) == SpanExportResult.FAILURE
    assert trusted.export([finished_span("job/accepted")]) == SpanExportResult.SUCCESS
    anonymous.shutdown()
    trusted.shutdown()
    listed = requests.get(
        f"{token_server.url}/api/v1/jobs", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10
    )
    assert [job["name"] for job in listed.json()["jobs"]] == ["accepted"]
