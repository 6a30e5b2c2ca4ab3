"""Jobs on requests get the same per-job traces as on httpx: the reference worker on requests.Session
against the simulator, the gate's three paths, secrets, export traffic, broken bodies and the CLI."""

from __future__ import annotations

import contextvars
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from opentelemetry.instrumentation.requests import RequestsInstrumentor

from batch_debug.collector import jobfile
from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import item_span, job_span, requests_setup
from batch_debug.instrumentation.jobstate import OUTSIDE
from batch_debug.instrumentation.pipeline import installed, switch_is_on
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from batch_debug.jellyfin.worker_requests import run_job_requests
from otlp_support import BIN, OTEL_CONFIG, PYTHON, OtelTap, wait_for, worker_env
from support import API_KEY, NO_WAIT as FAST, scan_for_secret

SAME = ("total_requests", "successful_requests", "failed_requests", "other_requests", "status_code_breakdown",
        "items_total", "items_succeeded", "items_failed", "items_unfinished", "retries", "failure_patterns",
        "sessions_created", "requests_outside_jobs")


def _load(pipeline, job_id: str) -> dict:
    path = pipeline.job_file(job_id)
    assert path is not None, f"no job file for {job_id}"
    return jobfile.load(path)


def _served(sim) -> int:
    """Requests the simulator read, leaving out ``/System/Info/Public`` (the probe, the CLI's check)."""
    return sum(1 for r in sim.stats()["requests"] if r["seq"] is not None)


def _items(data: dict) -> list[tuple]:
    return sorted((i["item_id"], i["outcome"], i["error"]) for i in data["items"])


def test_the_mixed_job_on_requests_gives_what_it_gives_on_httpx(debug_pipeline, make_sim) -> None:
    # Two simulators with the same seed: faults follow each item's own attempts, so both jobs meet the same.
    # One item at a time: with several, the order of attempts (which failure windows read) varies by run.
    on_httpx, on_requests = (make_sim("mixed", seed=3, latency_scale=0) for _ in range(2))
    ids = on_httpx.demo_item_ids(30, seed=3)
    a = run_job(WorkerConfig(server=on_httpx.url, api_key=API_KEY, **FAST), ids, "mixed-httpx")
    b = run_job_requests(WorkerConfig(server=on_requests.url, api_key=API_KEY, **FAST), ids, "mixed-requests")
    x, y = _load(debug_pipeline, "mixed-httpx"), _load(debug_pipeline, "mixed-requests")
    assert {k: y["summary"][k] for k in SAME} == {k: x["summary"][k] for k in SAME}
    assert y["summary"]["status_code_breakdown"].keys() >= {"200", "400", "404", "500", "503"}
    assert [f["id"] for f in y["summary"]["findings"]] == [f["id"] for f in x["summary"]["findings"]] != []
    assert _items(y) == _items(x)
    assert [(i.item_id, i.ok, i.status_code, i.requests) for i in b.items] == \
        [(i.item_id, i.ok, i.status_code, i.requests) for i in a.items]
    assert y["summary"]["total_requests"] == _served(on_requests) == b.requests
    # Every attempt's connection is known: one connection, opened by the first request, as with httpx.
    assert y["summary"]["connections"] == x["summary"]["connections"]
    assert (y["summary"]["connections"]["new"], y["summary"]["connections"]["unknown"]) == (1, 0)
    assert {r["http_version"] for r in y["requests"]} == {"HTTP/1.1"}
    assert all(r["ttfb_ms"] is not None and r["body_bytes"] is not None for r in y["requests"])
    broken = next(r for r in y["requests"] if r["status_code"] == 500)
    assert "Input/output error" in broken["error_body"] and broken["error_body_bytes"] > 0


def test_a_session_per_request_is_recognised_and_a_shared_one_reuses(debug_pipeline, sim) -> None:
    ids = sim.item_ids[:6]
    run_job_requests(WorkerConfig(server=sim.url, api_key=API_KEY, session_strategy="per-request", **FAST), ids,
                     "per-call")
    run_job_requests(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), ids, "one-session")
    per, shared = _load(debug_pipeline, "per-call")["summary"], _load(debug_pipeline, "one-session")["summary"]
    assert per["sessions_created"] == 18 and per["connections"]["new"] == 18
    assert [f["id"] for f in per["findings"]] == ["connection_churn"]
    assert per["findings"][0]["evidence"]["sessions_created"] == 18
    assert shared["sessions_created"] == 1
    assert (shared["connections"]["new"], shared["connections"]["reused"]) == (1, 17)
    assert shared["findings"] == []
    first = _load(debug_pipeline, "one-session")["requests"][0]
    assert first["connection_reused"] is False and first["connect_ms"] is not None


@pytest.mark.parametrize("auth", ["header", "legacy-header", "query", "legacy-query"])
def test_the_key_in_every_form_is_learned_and_never_written(debug_pipeline, recorded_spans, sim, debug_dir,
                                                            auth) -> None:
    run_job_requests(WorkerConfig(server=sim.url, api_key=API_KEY, auth=auth, **FAST), sim.demo_item_ids(6, seed=5),
                     f"key-{auth}")
    data = _load(debug_pipeline, f"key-{auth}")
    lookups = [r for r in data["requests"] if r["route"] == "/Items/{itemId}"]
    assert lookups and {r["credential_form"] for r in lookups} == {
        "header": {"authorization"}, "legacy-header": {"x-emby-token"}, "query": {"query-apikey"},
        "legacy-query": {"query-api_key"}}[auth]
    assert any(r.get("request_headers") for r in lookups)  # failed lookups carry their (redacted) headers
    assert scan_for_secret(debug_dir) == []
    assert API_KEY not in repr([(s.name, s.attributes, s.events) for s in recorded_spans.get_finished_spans()])


def test_an_error_body_is_recorded_and_still_read_whole_by_the_caller(debug_pipeline, sim) -> None:
    with job_span("rq-body"):
        with requests.Session() as session, item_span("zz"):
            text = session.get(f"{sim.url}/Items/not-a-guid/Images/Primary", timeout=5).text
            streamed = session.get(f"{sim.url}/Items/{'0' * 32}/Images/Primary", timeout=5, stream=True)
            head = streamed.raw.read(10)
            rest = b"".join(streamed.iter_content(7))
    bad, missing = _load(debug_pipeline, "rq-body")["requests"]
    assert "not valid" in text and bad["error_body"] == text[:2048]
    assert (bad["status_code"], bad["body_bytes"]) == (400, len(text.encode()))
    assert missing["status_code"] == 404 and missing["error_body"] == (head + rest).decode()[:2048] != ""
    assert missing["body_bytes"] == len(head + rest) and missing["connection_reused"] is True


def test_outside_a_job_the_stock_span_is_made_counted_and_redacted(debug_pipeline, recorded_spans, sim) -> None:
    before = OUTSIDE.value
    requests.get(f"{sim.url}/Items/{sim.item_ids[0]}", params={"ApiKey": API_KEY}, timeout=5)
    assert OUTSIDE.value == before + 1
    [span] = recorded_spans.get_finished_spans()
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.requests"
    assert API_KEY not in repr(span.attributes) and "ApiKey=" in repr(span.attributes)


def test_debug_off_records_nothing(off_pipeline, recorded_spans, sim, debug_dir) -> None:
    before = OUTSIDE.value
    result = run_job_requests(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:3], "quiet")
    requests.get(f"{sim.url}/System/Info/Public", timeout=5)
    off_pipeline.flush(5)
    assert result.succeeded == 3 and result.job_file is None
    assert recorded_spans.get_finished_spans() == ()
    assert jobfile.list_job_files(debug_dir) == [] and OUTSIDE.value == before


class _OtlpReceiver:
    """An OTLP/HTTP receiver on loopback that accepts and counts every POST."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_exporters_own_requests_never_enter_the_job(sim, tmp_path: Path) -> None:
    receiver = _OtlpReceiver()
    folder = tmp_path / "exported"
    switch = DebugSwitch(folder, environ={})
    switch.enable(5)
    try:
        with installed(folder, switch=switch, otlp_endpoint=receiver.url) as pipeline:
            with job_span("exported"):
                with requests.Session() as session:
                    for item_id in sim.item_ids[:2]:
                        with item_span(item_id):
                            session.get(f"{sim.url}/Items/{item_id}/Images/Primary", timeout=5)
                # The batch is exported here, inside the job (a thread with the job's context): with requests.
                # Were the export's own requests recorded, each export would queue a span to export: no end.
                flush = threading.Thread(target=contextvars.copy_context().run, args=(pipeline.provider.force_flush,),
                                         daemon=True)
                flush.start()
                flush.join(20)
                assert not flush.is_alive(), "the export never ended: its own requests were recorded and exported"
                exported_in_job = list(receiver.posts)
            data = _load(pipeline, "exported")
    finally:
        receiver.close()
    assert exported_in_job and set(exported_in_job) == {"/v1/traces"}
    assert [r["url"].split("/Items/")[1] for r in data["requests"]] == \
        [f"{i}/Images/Primary" for i in sim.item_ids[:2]]
    assert data["summary"]["requests_outside_jobs"] == 0 and data["summary"]["sessions_created"] == 1


def test_a_body_cut_midway_fails_its_attempt_in_the_body_phase(debug_pipeline, make_sim) -> None:
    sim = make_sim("healthy", shapes=Shapes(body_drop_every=3))
    result = run_job_requests(WorkerConfig(server=sim.url, api_key=API_KEY, max_attempts=2, **FAST),
                              sim.item_ids[:6], "cut")
    data = _load(debug_pipeline, "cut")
    cut = [r for r in data["requests"] if r.get("error_phase") == "body"]
    assert len(cut) == 4 == sim.truth()["body_drop"]["count"]  # 2 items x 2 attempts
    assert {(r["status_code"], r["error_type"]) for r in cut} == {(200, "ProtocolError")}
    assert all(0 < r["body_bytes"] for r in cut)
    assert [f["id"] for f in data["summary"]["findings"]] == ["body_cut_off"]
    assert result.failed == 2 and all("ChunkedEncodingError" in (i.error or "") for i in result.items if not i.ok)


def test_a_job_on_requests_is_recorded_after_stock_instrumentation_ran_first(debug_pipeline, sim) -> None:
    """Zero-code mode: opentelemetry-instrument instruments requests without the gate; setting up puts it back."""
    provider = debug_pipeline.provider
    requests_setup.uninstrument()
    try:
        RequestsInstrumentor().instrument()  # as opentelemetry-instrument does, before our post-instrument step
        # What the gate relies on (0.66b1): the stock send is marked and keeps the original in __wrapped__.
        stock = requests.Session.send
        assert stock.opentelemetry_instrumentation_requests_applied
        assert stock.__wrapped__.__module__ == "requests.sessions"
        requests_setup.instrument(provider, is_on=switch_is_on)
        send = requests.Session.send
        assert getattr(send, "_batch_debug_gate", False)
        assert not getattr(send.__wrapped__, "opentelemetry_instrumentation_requests_applied", False)
        run_job_requests(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:2], "after-stock")
    finally:  # whatever happened, requests as the other tests expect it
        requests_setup.uninstrument()
        requests_setup.instrument(provider, is_on=switch_is_on)
    assert _load(debug_pipeline, "after-stock")["summary"]["total_requests"] == 6


def test_run_job_with_the_requests_client_writes_the_job_file(tmp_path: Path, make_sim) -> None:
    sim = make_sim("mixed", seed=2, latency_scale=0)
    DebugSwitch(tmp_path, environ={}).enable(5)
    ids = sim.demo_item_ids(8, seed=2)
    env = {k: v for k, v in os.environ.items() if k != "APHRODITE_BATCH_DEBUG"}
    out = subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", "run-job", "--client", "requests",
                          "--server", sim.url, "--api-key", API_KEY, "--job-id", "cli-rq", "--no-wait",
                          "--concurrency", "2", "--dir", str(tmp_path), *ids],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1, out.stderr  # some demo ids are bad on purpose
    path = jobfile.newest_for(tmp_path, "cli-rq")
    assert path is not None and f"debug file: {path}" in out.stdout
    data = json.loads(path.read_text())
    assert data["summary"]["total_requests"] == _served(sim) and data["summary"]["items_failed"] > 0
    agents = {r["request_headers"]["user-agent"] for r in data["requests"] if r.get("request_headers")}
    assert agents == {f"python-requests/{requests.__version__}"}
    assert API_KEY not in out.stdout + out.stderr and scan_for_secret(tmp_path) == []


_REQUESTS_JOB = """
import sys
from batch_debug.jellyfin.worker import WorkerConfig
from batch_debug.jellyfin.worker_requests import run_job_requests
server, key, job_id, *ids = sys.argv[1:]
config = WorkerConfig(server=server, api_key=key, min_interval=0.0, backoff=(0.0,), max_retry_after=0.0)
run_job_requests(config, ids, job_id)
"""


def test_zero_code_mode_records_requests_jobs_and_never_their_own_export(make_sim, tmp_path: Path) -> None:
    """Under opentelemetry-instrument (requests instrumented without the gate first, and the OTLP exporter
    posting with requests to a live receiver), the job file holds the job's requests only."""
    sim = make_sim("healthy")
    tap = OtelTap()
    try:
        env = worker_env(OTEL_CONFIG_FILE=str(OTEL_CONFIG), APHRODITE_BATCH_DEBUG="true",
                         APHRODITE_BATCH_DEBUG_DIR=str(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=tap.url)
        done = subprocess.run([str(BIN / "opentelemetry-instrument"), PYTHON, "-c", _REQUESTS_JOB, sim.url, API_KEY,
                               "zero-requests", *sim.item_ids[:3]], capture_output=True, text=True, timeout=120,
                              env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        exported = wait_for(lambda: len(tap.collected()) >= 1 + 3 + 9 and tap.collected())
    finally:
        tap.stop()
    path = jobfile.newest_for(tmp_path, "zero-requests")
    assert path is not None, done.stderr[-3000:]
    data = jobfile.load(path)
    assert (data["summary"]["total_requests"], data["summary"]["items_succeeded"]) == (9, 3)
    assert data["summary"]["requests_outside_jobs"] == 0
    assert all("/v1/traces" not in r["url"] for r in data["requests"])  # the exporter's posts are not the job's
    scopes = {ss["scope"]["name"] for rs in data["resourceSpans"] for ss in rs["scopeSpans"]}
    assert "opentelemetry.instrumentation.requests" not in scopes  # no stock span beside ours
    assert len(exported) == 1 + 3 + 9
