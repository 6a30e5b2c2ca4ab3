"""End to end in one process: the reference worker against the real simulator.

Each test reads the job file the pipeline wrote and compares it with what the
simulator says it served.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from batch_debug.collector import jobfile
from batch_debug.instrumentation import item_span, job_span
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from batch_debug.jellyfin.worker_async import run_job_async
from support import API_KEY, NO_WAIT as FAST, scan_for_secret



def _served_by_job(sim) -> dict[str, int]:
    """What the simulator served, without our one server-info probe per job."""
    requests = [r for r in sim.stats()["requests"] if not r["path"].lower().endswith("/system/info/public")]
    return dict(Counter(str(r["status"]) for r in requests))


def _load(pipeline, job_id: str) -> dict:
    path = pipeline.job_file(job_id)
    assert path is not None, "no job file written"
    return jobfile.load(path)


def test_counts_equal_what_the_simulator_served(debug_pipeline, make_sim) -> None:
    sim = make_sim("mixed", seed=3)
    ids = sim.demo_item_ids(40, seed=3)
    result = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=4, **FAST), ids, "count-job")
    data = _load(debug_pipeline, "count-job")
    summary = data["summary"]
    served = _served_by_job(sim)
    assert summary["status_code_breakdown"] == served
    assert summary["total_requests"] == sum(served.values()) == result.requests == len(data["requests"])
    assert summary["items_total"] == 40
    assert summary["items_failed"] == result.failed
    assert Counter(r["method"] for r in data["requests"])["HEAD"] > 0  # HEAD probes are counted
    assert summary["retries"] == sum(1 for r in data["requests"] if r["attempt"] > 1) > 0


def test_resource_spans_parse_as_otlp_traces_data(debug_pipeline, sim) -> None:
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:3], "otlp-job")
    data = _load(debug_pipeline, "otlp-job")

    def to_proto_ids(value):  # OTLP/JSON writes ids as hex; protobuf's JSON mapping wants base64
        if isinstance(value, dict):
            return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                        if k in ("traceId", "spanId", "parentSpanId") and v else to_proto_ids(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [to_proto_ids(v) for v in value]
        return value

    traces = ParseDict(to_proto_ids({"resourceSpans": data["resourceSpans"]}), TracesData())
    spans = [s for rs in traces.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 1 + 3 + 9  # job, items, 3 requests per item
    assert {s.trace_id.hex() for s in spans} == {data["trace_id"]}


@pytest.mark.parametrize("profile,pattern,finding", [
    ("bad-auth", "auth", "key_rejected"),
    ("flaky", "server_error", "transient_server_errors"),
    ("rate-limited", "rate_limited", "rate_limited"),
    ("mixed", "server_error", "item_server_errors"),
])
def test_each_profile_yields_its_failure_pattern_and_finding(debug_pipeline, make_sim, profile, pattern,
                                                             finding) -> None:
    sim = make_sim(profile, seed=11, rate_limit_per_second=5.0, rate_limit_burst=2) \
        if profile == "rate-limited" else make_sim(profile, seed=11)
    ids = sim.item_ids[:30]
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=4, **FAST), ids, f"{profile}-job")
    summary = _load(debug_pipeline, f"{profile}-job")["summary"]
    assert pattern in [p["pattern"] for p in summary["failure_patterns"]]
    found = [f["id"] for f in summary["findings"]]
    assert finding in found, summary["recommendations"]
    assert len(summary["recommendations"]) == len(found)


def test_healthy_run_reports_no_problems(debug_pipeline, sim) -> None:
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:5], "fine")
    summary = _load(debug_pipeline, "fine")["summary"]
    assert summary["failure_patterns"] == []
    assert summary["success_rate_percent"] == 100.0
    assert summary["findings"] == []
    assert len(summary["recommendations"]) == 1 and summary["recommendations"][0].startswith("No problems found")


@pytest.mark.parametrize("auth", ["header", "query", "legacy-header", "legacy-query"])
def test_api_key_appears_nowhere_in_the_debug_folder(debug_pipeline, make_sim, debug_dir: Path, auth) -> None:
    sim = make_sim("mixed", seed=5)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, auth=auth, **FAST), sim.demo_item_ids(10, seed=5),
            f"secret-{auth}")
    data = _load(debug_pipeline, f"secret-{auth}")
    assert scan_for_secret(debug_dir) == []
    assert "[REDACTED]" in json.dumps(data["requests"])  # the key was there, and is gone


def test_environment_describes_the_server(debug_pipeline, sim) -> None:
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:2], "env-job")
    env = _load(debug_pipeline, "env-job")["environment"]
    assert env["server_info"]["ProductName"] == "Jellyfin Server"
    assert env["server_info"]["Version"] == "10.10.7"
    assert env["server_header"] == "Kestrel"
    assert env["http_versions"] == {"HTTP/1.1": 6}
    assert env["latency_ms"]["p50_ms"] > 0


def test_shared_session_reuses_connections_and_per_request_does_not(debug_pipeline, sim) -> None:
    ids = sim.item_ids[:10]
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), ids, "shared")
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, session_strategy="per-request", **FAST), ids, "per")
    shared, per = _load(debug_pipeline, "shared"), _load(debug_pipeline, "per")
    assert shared["summary"]["connections"]["new"] == 1
    assert shared["summary"]["connections"]["reused"] == 29
    assert shared["summary"]["sessions_created"] == 1
    assert per["summary"]["connections"]["new"] == 30
    assert per["summary"]["sessions_created"] == 30
    assert [f["id"] for f in per["summary"]["findings"]] == ["connection_churn"]
    assert per["summary"]["findings"][0]["evidence"]["new_connections"] == 30
    assert shared["summary"]["findings"] == []
    first = shared["requests"][0]
    assert first["connection_reused"] is False and first["connect_ms"] is not None
    assert first["ttfb_ms"] is not None


def test_error_body_is_recorded_and_still_readable_by_the_caller(debug_pipeline, sim) -> None:
    with job_span("body-job"):
        with httpx.Client() as client:
            with item_span("zz"):
                response = client.get(f"{sim.url}/Items/not-a-guid/Images/Primary")
                body = response.text
    assert response.status_code == 400 and "not valid" in body
    record = _load(debug_pipeline, "body-job")["requests"][0]
    assert record["status_code"] == 400
    assert record["error_body"] == body[:2048]


def test_async_error_body_is_recorded_and_still_readable(debug_pipeline, sim) -> None:
    async def job() -> str:
        async with job_span("abody"):
            async with httpx.AsyncClient() as client:
                async with item_span("x"):
                    response = await client.get(f"{sim.url}/Items/{'0' * 32}/Images/Primary")
                    return response.text

    body = asyncio.run(job())
    record = _load(debug_pipeline, "abody")["requests"][0]
    assert record["status_code"] == 404
    assert record["error_body"] == body[:2048] != ""


def test_network_errors_are_recorded_by_type(debug_pipeline) -> None:
    config = WorkerConfig(server="http://127.0.0.1:9", api_key=API_KEY, max_attempts=2, **FAST)
    result = run_job(config, ["a" * 32], "down")
    summary = _load(debug_pipeline, "down")["summary"]
    assert result.failed == 1
    assert summary["status_code_breakdown"] == {"ConnectError": 2}
    assert [p["pattern"] for p in summary["failure_patterns"]] == ["network:ConnectError"]


def test_async_worker_and_thread_worker_give_the_same_counts(debug_pipeline, make_sim) -> None:
    sim = make_sim("healthy")
    ids = sim.demo_item_ids(20, seed=9)
    config = WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=5, **FAST)
    threaded = run_job(config, ids, "threads")
    asynced = asyncio.run(run_job_async(config, ids, "tasks"))
    a, b = _load(debug_pipeline, "threads")["summary"], _load(debug_pipeline, "tasks")["summary"]
    assert a["status_code_breakdown"] == b["status_code_breakdown"]
    assert a["items_failed"] == b["items_failed"] == threaded.failed == asynced.failed


def test_concurrent_jobs_never_mix(debug_pipeline, make_sim) -> None:
    sim = make_sim("healthy")

    async def both() -> None:
        await asyncio.gather(*(
            run_job_async(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=3, **FAST),
                          sim.item_ids[i * 10:(i + 1) * 10], f"par-{i}")
            for i in range(4)))

    asyncio.run(both())
    for i in range(4):
        data = _load(debug_pipeline, f"par-{i}")
        assert {r["item_id"] for r in data["requests"]} == set(sim.item_ids[i * 10:(i + 1) * 10])
        assert data["summary"]["total_requests"] == 30
        spans = [s for rs in data["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
        assert {s["traceId"] for s in spans} == {data["trace_id"]}
        assert {r["span_id"] for r in data["requests"]} <= {s["spanId"] for s in spans}


def test_debug_off_writes_no_file_and_records_no_span(off_pipeline, recorded_spans, sim, debug_dir) -> None:
    result = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:3], "quiet")
    off_pipeline.flush(5)
    assert result.succeeded == 3 and result.job_file is None
    assert recorded_spans.get_finished_spans() == ()
    assert jobfile.list_job_files(debug_dir) == []


def test_job_started_while_on_is_traced_to_its_end_after_disable(debug_pipeline, sim) -> None:
    with job_span("long") as job:
        assert job.recording
        with httpx.Client() as client:
            client.get(f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary")
            debug_pipeline.switch.disable()
            client.get(f"{sim.url}/Items/{sim.item_ids[1]}/Images/Primary")
    assert _load(debug_pipeline, "long")["summary"]["total_requests"] == 2


@pytest.mark.parametrize("suppress", ["http", "all"])
def test_requests_with_instrumentation_suppressed_are_not_recorded(debug_pipeline, sim, suppress) -> None:
    """An exporter's or a probe's own requests, made inside a job, never count as the job's."""
    from opentelemetry.instrumentation.utils import suppress_http_instrumentation, suppress_instrumentation

    quiet = suppress_http_instrumentation if suppress == "http" else suppress_instrumentation
    with job_span(f"suppressed-{suppress}"):
        with httpx.Client() as client:
            with item_span("a"):
                client.get(f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary")
                with quiet():
                    client.get(f"{sim.url}/Items/{sim.item_ids[1]}/Images/Primary")
    data = _load(debug_pipeline, f"suppressed-{suppress}")
    assert [r["url"].rsplit("/Items/", 1)[1] for r in data["requests"]] == [f"{sim.item_ids[0]}/Images/Primary"]
