"""POST /v1/traces: the sidecar receives OTLP/HTTP and writes the same job files a local worker writes.

Spans come from real jobs against the simulator (recorded in this process);
they are sent as the OTLP exporters send them, to the app and to a real
sidecar process.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path

import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as encode_json
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as encode_protobuf
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from batch_debug.collector import jobfile
from batch_debug.dashboard.otlp import assembler_for
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from dashboard_helpers import ServerProcess
from support import API_KEY, NO_WAIT as FAST, comparable_job

PROTOBUF = "application/x-protobuf"


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    """The sidecar's folder: not the local worker's (``debug_dir``)."""
    folder = tmp_path / "sidecar-debug"
    folder.mkdir()
    return folder


@pytest.fixture
def local_job(debug_pipeline, recorded_spans, make_sim):
    """A real job's file (written by the local processor) and its finished spans."""
    sim = make_sim("mixed", seed=21)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=2, **FAST), sim.demo_item_ids(8, seed=21),
            "remote-shaped")
    data = jobfile.load(debug_pipeline.job_file("remote-shaped"))
    spans = [s for s in recorded_spans.get_finished_spans() if f"{s.context.trace_id:032x}" == data["trace_id"]]
    return data, spans


def _same_job(got: dict, local: dict) -> None:
    assert comparable_job(got) == comparable_job(local)  # the local job's two worker threads interleave


def _written(app, job_id: str) -> dict:
    assert assembler_for(app).flush(10)
    path = jobfile.newest_for(Path(app.config["DEBUG_DIR"]), job_id)
    assert path is not None, "no job file assembled"
    return jobfile.load(path)


def test_protobuf_export_becomes_the_same_job_file(app, client, local_job) -> None:
    local, spans = local_job
    answer = client.post("/v1/traces", data=encode_protobuf(spans).SerializeToString(), content_type=PROTOBUF)
    assert answer.status_code == 200 and answer.mimetype == PROTOBUF
    assert ExportTraceServiceResponse.FromString(answer.data) == ExportTraceServiceResponse()
    _same_job(_written(app, "remote-shaped"), local)


def test_otlp_json_export_becomes_the_same_job_file(app, client, local_job) -> None:
    local, spans = local_job
    body = json.dumps(encode_json(spans).to_dict())
    answer = client.post("/v1/traces", data=body, content_type="application/json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_json() == {}
    _same_job(_written(app, "remote-shaped"), local)


@pytest.mark.parametrize("encoding", [PROTOBUF, "application/json"])
def test_gzip_bodies_are_accepted(app, client, local_job, encoding: str) -> None:
    local, spans = local_job
    raw = (encode_protobuf(spans).SerializeToString() if encoding == PROTOBUF
           else json.dumps(encode_json(spans).to_dict()).encode())
    answer = client.post("/v1/traces", data=gzip.compress(raw), content_type=encoding,
                         headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 200
    _same_job(_written(app, "remote-shaped"), local)


def test_spans_split_over_many_exports_make_one_job(app, client, local_job) -> None:
    local, spans = local_job
    for start in range(0, len(spans), 5):  # the job span, ending last, comes in the last export
        answer = client.post("/v1/traces", data=encode_protobuf(spans[start:start + 5]).SerializeToString(),
                             content_type=PROTOBUF)
        assert answer.status_code == 200
    _same_job(_written(app, "remote-shaped"), local)


BAD_JSON = [
    ("not json", b"{resourceSpans"),
    ("not an object", b"[1, 2]"),
    ("hex id too short", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "abc", "spanId": "0123456789abcdef"}]}]}]}).encode()),
    ("no hex", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "z" * 32, "spanId": "0123456789abcdef"}]}]}]}).encode()),
    ("wrong type", json.dumps({"resourceSpans": {"scopeSpans": []}}).encode()),
]


@pytest.mark.parametrize("what,body", BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_bad_json_is_a_400_status_in_json(client, what: str, body: bytes) -> None:
    answer = client.post("/v1/traces", data=body, content_type="application/json")
    assert answer.status_code == 400
    payload = answer.get_json()
    assert payload["code"] == 3 and payload["message"].startswith("Malformed OTLP trace payload")
    assert payload["error"] == {"status": 400, "message": payload["message"]}


@pytest.mark.parametrize("body,headers", [
    (b"\xff\x00garbage that is no protobuf", {}),
    (b"definitely not gzip", {"Content-Encoding": "gzip"}),
    (gzip.compress(b"x", mtime=0)[:-6], {"Content-Encoding": "gzip"}),
    (b"", {"Content-Encoding": "br"}),
], ids=["not-protobuf", "not-gzip", "truncated-gzip", "brotli"])
def test_bad_protobuf_is_a_400_status_in_protobuf(client, body: bytes, headers: dict) -> None:
    answer = client.post("/v1/traces", data=body, content_type=PROTOBUF, headers=headers)
    assert answer.status_code == 400 and answer.mimetype == PROTOBUF
    status = status_pb2.Status.FromString(answer.data)
    assert status.code == 3 and "Malformed OTLP trace payload" in status.message


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/grpc", ""])
def test_other_content_types_are_415(client, content_type: str) -> None:
    answer = client.post("/v1/traces", data=b"{}", content_type=content_type)
    assert answer.status_code == 415
    assert answer.get_json()["error"]["status"] == 415


def test_an_empty_export_is_fine_and_writes_nothing(app, client, job_dir: Path) -> None:
    assert client.post("/v1/traces", data=b"", content_type=PROTOBUF).status_code == 200
    assert client.post("/v1/traces", data=b"{}", content_type="application/json").status_code == 200
    assert jobfile.list_job_files(job_dir) == []


def test_batches_larger_than_the_apis_body_limit_are_taken(app, client, local_job) -> None:
    local, spans = local_job
    body = json.dumps(encode_json(spans).to_dict()) + " " * (2 << 20)  # JSON allows trailing space
    assert client.post("/v1/traces", data=body, content_type="application/json").status_code == 200
    _same_job(_written(app, "remote-shaped"), local)


def test_the_token_guards_the_receiver_when_set(make_app, local_job) -> None:
    _, spans = local_job
    client = make_app(API_TOKEN="otlp-s3cret").test_client()
    body = encode_protobuf(spans).SerializeToString()
    refused = client.post("/v1/traces", data=body, content_type=PROTOBUF)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].lower().startswith("bearer")
    wrong = client.post("/v1/traces", data=body, content_type=PROTOBUF, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = client.post("/v1/traces", data=body, content_type=PROTOBUF,
                     headers={"Authorization": "Bearer otlp-s3cret"})
    assert ok.status_code == 200


def test_the_receiver_is_in_the_openapi_document(client) -> None:
    document = client.get("/api/v1/batch-debug/openapi.json").get_json()
    post = document["paths"]["/v1/traces"]["post"]
    assert set(post["requestBody"]["content"]) == {PROTOBUF, "application/json"}
    assert {"200", "400", "401", "415"} <= set(post["responses"])
    assert post["security"] == [{"bearerAuth": []}]
    assert "/v1/traces" in document["info"]["description"]


def test_a_real_exporter_reaches_a_real_sidecar(tmp_path: Path, local_job) -> None:
    local, spans = local_job
    folder = tmp_path / "sidecar"
    server = ServerProcess(folder, tmp_path / "sidecar.log")
    try:
        exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", compression=Compression.Gzip, timeout=10)
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        deadline = time.monotonic() + 20
        while jobfile.newest_for(folder, "remote-shaped") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        path = jobfile.newest_for(folder, "remote-shaped")
        assert path is not None, server.log.read_text()[-2000:]
        _same_job(jobfile.load(path), local)
    finally:
        server.stop()


def _value(value: object) -> dict:
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": str(value)}


def _span(span_id: str, parent: str | None, name: str, kind: int, attrs: dict, start: int, events=()) -> dict:
    span = {"traceId": "ab" * 16, "spanId": span_id, "name": name, "kind": kind,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 1_000_000),
            "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
            "events": [{"name": n, "timeUnixNano": str(start), "attributes": [
                {"key": k, "value": _value(v)} for k, v in a.items()]} for n, a in events]}
    if parent:
        span["parentSpanId"] = parent
    return span


def test_keys_in_spans_from_a_foreign_worker_are_learned_and_never_written(app, client) -> None:
    """A worker with another instrumentation captured its key in a header attribute and a URL, and its
    code pasted the bare key into an item error: the sidecar's job file holds none of them."""
    header_key, query_key, token_key = "hdr-" + "1a2b" * 6, "qry-" + "3c4d" * 6, "tok-" + "5e6f" * 6
    base = 1_700_000_000_000_000_000
    job = "11" * 8
    item = "22" * 8
    request = _span("33" * 8, item, "GET", 3, {
        "http.request.method": "GET", "url.full": f"http://jf:8096/Items/x?api_key={query_key}",
        "http.response.status_code": 401, "http.request.header.x-emby-token": [header_key],
        "batch_debug.item.id": "x"}, base + 2_000_000,
        events=[("exception", {"exception.message": f'Authorization: MediaBrowser Token="{token_key}"'})])
    pasted = _span(item, job, "poster item", 1, {
        "batch_debug.item.id": "x", "batch_debug.item.outcome": "failed",
        "batch_debug.item.error": f"401 with {header_key} and {query_key}"}, base + 1_000_000)
    root = _span(job, None, "batch job", 1, {"batch_debug.job.id": "foreign", "batch_debug.job.items_total": 1},
                 base)
    for spans in ([pasted], [request], [root]):  # the item's error arrives before the key is seen
        body = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "other"},
                                                                                  "spans": spans}]}]}
        assert client.post("/v1/traces", json=body).status_code == 200
    data = _written(app, "foreign")
    text = json.dumps(data)
    for key in (header_key, query_key, token_key):
        assert key not in text, key
    assert data["items"][0]["error"] == "401 with [REDACTED] and [REDACTED]"
    assert data["summary"]["status_code_breakdown"] == {"401": 1}


@pytest.mark.parametrize("wrong", [{"error_body": 12345}, {"status_code": "abc"}], ids=["error_body", "status_code"])
def test_a_record_of_the_wrong_type_from_elsewhere_is_dropped_and_the_job_still_shown(app, client,
                                                                                      wrong: dict) -> None:
    base = 1_700_000_000_000_000_000
    job, item = "11" * 8, "22" * 8

    def attempt(span_id: str, status: int, record: dict) -> dict:
        return _span(span_id, item, "GET", 3, {
            "http.request.method": "GET", "url.full": "http://jf:8096/Items/x/Images/Primary",
            "http.response.status_code": status, "batch_debug.record": json.dumps(record)}, base + 2_000_000)

    spans = [
        attempt("33" * 8, 500, {"item_id": "x", "start_offset_ms": 2.0, "body_bytes": 5, **wrong}),
        attempt("44" * 8, 200, {"item_id": "x", "start_offset_ms": 3.0, "body_bytes": 5}),
        _span(item, job, "poster item", 1, {"batch_debug.item.id": "x", "batch_debug.item.outcome": "succeeded"},
              base + 1_000_000),
        _span(job, None, "batch job", 1, {"batch_debug.job.id": "typed", "batch_debug.job.items_total": 1}, base),
    ]
    body = {"resourceSpans": [{"resource": {"attributes": []},
                               "scopeSpans": [{"scope": {"name": "other"}, "spans": spans}]}]}
    assert client.post("/v1/traces", json=body).status_code == 200
    data = _written(app, "typed")
    assert data["dropped_records"] == data["summary"]["dropped_records"] == 1
    assert [r["span_id"] for r in data["requests"]] == ["44" * 8]
    assert data["summary"]["status_code_breakdown"] == {"200": 1}
    for view in ("summary", "full-log"):
        assert client.get(f"/api/v1/batch-debug/job/typed/{view}").status_code == 200


def test_the_receiver_sweeps_stale_traces_on_a_timer_from_its_start(app) -> None:
    before = set(threading.enumerate())
    assembler = assembler_for(app)
    sweepers = [t for t in set(threading.enumerate()) - before if t.name == "batch-debug-sweeper"]
    try:
        assert len(sweepers) == 1 and sweepers[0].is_alive()
        assert assembler.max_pending_traces == 1000
    finally:
        assembler.shutdown()
    assert not sweepers[0].is_alive()
