"""GET /job/<id>/trace as protobuf: an ExportTraceServiceRequest equal to the OTLP/JSON download.

The job files are real (the reference worker, or job code with three auth
forms, against the Jellyfin simulator); the protobuf is parsed with the
generated OTLP classes and checked span by span against the JSON download,
then sent back through the sidecar's own ``/v1/traces`` receiver.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from batch_debug.collector import jobfile
from batch_debug.collector.span_records import with_records
from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.otlp import assembler_for
from batch_debug.instrumentation import item_span, job_span
from dashboard_helpers import API, RECORDED_JOB, ServerProcess
from support import API_KEY, REPO, comparable_job

PROTOBUF = "application/x-protobuf"
TRACE = f"{API}/job/{RECORDED_JOB}/trace"


def _plain(value: dict[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as a Python value (int64s may be strings or numbers in OTLP/JSON)."""
    (kind, inner), = value.items()
    if kind == "intValue":
        return int(inner)
    if kind == "arrayValue":
        return [_plain(v) for v in inner.get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: _plain(kv["value"]) for kv in inner.get("values", [])}
    return inner


def _json_spans(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spans = [s for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    return {s["spanId"]: {
        "traceId": s["traceId"], "parentSpanId": s.get("parentSpanId", ""), "name": s["name"],
        "kind": s.get("kind", 0), "start": int(s["startTimeUnixNano"]), "end": int(s["endTimeUnixNano"]),
        "status": s.get("status", {}).get("code", 0),
        "attributes": {kv["key"]: _plain(kv["value"]) for kv in s.get("attributes", [])},
    } for s in spans}


def _protobuf_spans(request: ExportTraceServiceRequest) -> dict[str, dict[str, Any]]:
    """Every span, ids as hex; asserts the id sizes OTLP requires (16-byte trace, 8-byte span ids)."""
    out = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                assert len(s.trace_id) == 16 and len(s.span_id) == 8, (len(s.trace_id), len(s.span_id))
                assert len(s.parent_span_id) in (0, 8)
                out[s.span_id.hex()] = {
                    "traceId": s.trace_id.hex(), "parentSpanId": s.parent_span_id.hex(), "name": s.name,
                    "kind": s.kind, "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
                    "status": s.status.code,
                    "attributes": {kv.key: _plain(MessageToDict(kv.value)) for kv in s.attributes},
                }
    return out


def _download(client, url: str, **kwargs: Any) -> ExportTraceServiceRequest:
    answer = client.get(url, **kwargs)
    assert answer.status_code == 200, answer.data[:300]
    assert answer.mimetype == PROTOBUF
    assert answer.headers["Content-Disposition"] == f'attachment; filename="job_{RECORDED_JOB}_trace.pb"'
    return ExportTraceServiceRequest.FromString(answer.data)


@pytest.mark.parametrize("how", ["accept", "query"])
def test_protobuf_download_holds_the_json_downloads_spans(client, add_job, how: str) -> None:
    add_job()
    as_json = client.get(TRACE)
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    expected = _json_spans(as_json.get_json())
    assert len(expected) > 20 and len({s["traceId"] for s in expected.values()}) == 1
    if how == "accept":
        request = _download(client, TRACE, headers={"Accept": PROTOBUF})
    else:
        request = _download(client, TRACE + "?format=protobuf")
    got = _protobuf_spans(request)
    assert len(got) == len(expected)
    assert got == expected  # ids (hex of the bytes), parents, names, kinds, times, status, attributes
    assert any(s["parentSpanId"] for s in got.values()) and any(not s["parentSpanId"] for s in got.values())


@pytest.mark.parametrize("query,accept", [
    ("", None),
    ("", "text/html,application/xhtml+xml,*/*;q=0.8"),  # a browser following the link
    ("", "application/json, application/x-protobuf"),  # a tie goes to JSON, the default
    ("?format=json", PROTOBUF),  # the query wins over Accept
])
def test_json_stays_the_default(client, add_job, recorded_job_file, query: str, accept: str | None) -> None:
    add_job()
    answer = client.get(TRACE + query, headers={"Accept": accept} if accept else {})
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="job_{RECORDED_JOB}_trace.json"'
    assert "Accept" in answer.headers["Vary"]
    document = json.loads(recorded_job_file.read_text())
    spans = with_records(document["resourceSpans"], document["requests"])  # each request span whole again
    assert answer.data == json.dumps({"resourceSpans": spans}, separators=(",", ":")).encode()


def test_protobuf_preferred_by_quality_is_served(client, add_job) -> None:
    add_job()
    request = _download(client, TRACE, headers={"Accept": "application/json;q=0.5, application/x-protobuf"})
    assert len(request.resource_spans) >= 1


@pytest.mark.parametrize("value", ["xml", "PROTOBUF", ""])
def test_unknown_format_is_a_400_naming_the_choices(client, add_job, value: str) -> None:
    add_job()
    answer = client.get(f"{TRACE}?format={value}")
    assert answer.status_code == 400
    message = answer.get_json()["error"]["message"]
    assert "format" in message and '"json"' in message and '"protobuf"' in message


@pytest.mark.parametrize("damage", ["cut", "bad-id"])
def test_a_damaged_job_file_is_a_422_in_both_formats(client, add_job, damage: str) -> None:
    if damage == "cut":
        path = add_job()
        raw = path.read_bytes()
        path.write_bytes(raw[:raw.index(b',"resourceSpans":[') + 40])
    else:  # whole JSON, but a span id that is no id: only the protobuf conversion can notice
        def bad_id(document: dict[str, Any]) -> None:
            document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not-hex"
        add_job(mutate=bad_id)
    protobuf = client.get(TRACE, headers={"Accept": PROTOBUF})
    assert protobuf.status_code == 422, protobuf.data[:300]
    assert protobuf.get_json()["error"]["status"] == 422
    if damage == "cut":
        assert client.get(TRACE).status_code == 422


def test_protobuf_download_sent_to_v1_traces_makes_the_same_job(client, add_job, job_dir: Path, tmp_path: Path,
                                                                   clean_env: None) -> None:
    add_job()
    original = jobfile.load(jobfile.newest_for(job_dir, RECORDED_JOB))
    payload = client.get(TRACE + "?format=protobuf").data
    sidecar_dir = tmp_path / "sidecar"
    sidecar_dir.mkdir()
    sidecar = create_app({"TESTING": True, "DEBUG_DIR": str(sidecar_dir), "API_TOKEN": None})
    answer = sidecar.test_client().post("/v1/traces", data=payload, content_type=PROTOBUF)
    assert answer.status_code == 200, answer.data[:300]
    assert assembler_for(sidecar).flush(10)
    path = jobfile.newest_for(sidecar_dir, RECORDED_JOB)
    assert path is not None, "the receiver assembled no job file"
    assembled = jobfile.load(path)
    assert _json_spans(assembled) == _json_spans(original)
    assert comparable_job(assembled) == comparable_job(original)  # its records came back with the spans


def test_protobuf_download_never_holds_the_key(debug_pipeline, make_sim, debug_dir, clean_env: None) -> None:
    """One job, the key sent in a header, as ?ApiKey= and as Token="..."; the protobuf bytes are scanned."""
    sim = make_sim("mixed", seed=13)
    ids = sim.demo_item_ids(6, seed=13)
    clients = [httpx.Client(headers={"X-Emby-Token": API_KEY}),
               httpx.Client(params={"ApiKey": API_KEY}),
               httpx.Client(headers={"Authorization": f'MediaBrowser Client="t", Token="{API_KEY}"'})]
    try:
        with job_span("secret-protobuf"):
            for n, item_id in enumerate(ids):
                with item_span(item_id):
                    http = clients[n % len(clients)]
                    http.get(f"{sim.url}/Items/{item_id}")
                    http.get(f"{sim.url}/Items/{item_id}/Images/Primary")
    finally:
        for http in clients:
            http.close()
    path = debug_pipeline.job_file("secret-protobuf")
    assert path is not None
    assert b"[REDACTED]" in path.read_bytes()  # the key was recorded, and removed
    app = create_app({"TESTING": True, "DEBUG_DIR": str(debug_dir), "API_TOKEN": None})
    answer = app.test_client().get(f"{API}/job/secret-protobuf/trace", headers={"Accept": PROTOBUF})
    assert answer.status_code == 200 and answer.mimetype == PROTOBUF
    request = ExportTraceServiceRequest.FromString(answer.data)
    assert sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans) >= 2 * len(ids)
    assert API_KEY.encode() not in answer.data
    assert b"[REDACTED]" in answer.data  # what was redacted travels as redacted, not dropped


def _readme_protobuf_commands() -> list[str]:
    section = (REPO / "README.md").read_text().split("\n## Viewing traces\n", 1)[1].split("\n## ", 1)[0]
    lines = [line.split("   # ", 1)[0] for line in section.splitlines() if line.startswith("curl ")]
    download = [line for line in lines if "Accept: application/x-protobuf" in line]
    send = [line for line in lines if "--data-binary @job_JOB_ID_trace.pb" in line]
    assert len(download) == 1 and len(send) == 1, lines
    return [download[0], send[0]]


def test_the_readme_protobuf_commands_work(job_dir: Path, add_job, tmp_path: Path) -> None:
    """The README's curl lines, as written, against a real dashboard and a real second sidecar's /v1/traces."""
    add_job()
    document = jobfile.load(jobfile.newest_for(job_dir, RECORDED_JOB))
    original = _json_spans({"resourceSpans": with_records(document["resourceSpans"], document["requests"])})
    receiver_dir = tmp_path / "receiver"
    receiver_dir.mkdir()
    dashboard = ServerProcess(job_dir, tmp_path / "dashboard.log")
    receiver = ServerProcess(receiver_dir, tmp_path / "receiver.log")
    try:
        download, send = _readme_protobuf_commands()
        for line in (download.replace("http://127.0.0.1:8000", dashboard.url),
                     send.replace("http://jaeger:4318", receiver.url)):
            argv = shlex.split(line.replace("JOB_ID", RECORDED_JOB))
            done = subprocess.run([*argv, "--fail", "--silent", "--show-error"], cwd=tmp_path, capture_output=True,
                                  timeout=60)
            assert done.returncode == 0, (line, done.stderr)
        saved = tmp_path / f"job_{RECORDED_JOB}_trace.pb"  # the name the README promises
        assert _protobuf_spans(ExportTraceServiceRequest.FromString(saved.read_bytes())) == original
        deadline = time.monotonic() + 20
        while jobfile.newest_for(receiver_dir, RECORDED_JOB) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        path = jobfile.newest_for(receiver_dir, RECORDED_JOB)
        assert path is not None, receiver.log.read_text()[-2000:]
        received = jobfile.load(path)
        assert _json_spans(received) == _json_spans(document)  # its file keeps each record once again
        assert comparable_job(received) == comparable_job(document)
    finally:
        dashboard.stop()
        receiver.stop()
