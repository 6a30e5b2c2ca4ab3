"""aiohttp traced like httpx: the reference worker on ``aiohttp.ClientSession`` against the real simulator.

Each test runs real jobs through ``worker_aiohttp`` (or plain sessions)
and reads the job file the pipeline wrote, or the spans it exported.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import aiohttp
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from batch_debug.collector import jobfile
from batch_debug.instrumentation import item_span, job_span
from batch_debug.instrumentation.jobstate import OUTSIDE
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from batch_debug.jellyfin.worker_aiohttp import run_job_aiohttp
from support import API_KEY, NO_WAIT as FAST, scan_for_secret


def _load(pipeline, job_id: str) -> dict:
    path = pipeline.job_file(job_id)
    assert path is not None, "no job file written"
    return jobfile.load(path)


def _comparable(summary: dict) -> dict:
    """What must not depend on the client: counts, outcomes, breakdown, patterns and findings."""
    keys = ("total_requests", "successful_requests", "failed_requests", "other_requests", "status_code_breakdown",
            "items_total", "items_started", "items_succeeded", "items_failed", "retries", "sessions_created")
    found = {key: summary[key] for key in keys}
    found["failure_patterns"] = sorted((p["pattern"], p["count"]) for p in summary["failure_patterns"])
    found["findings"] = sorted((f["id"], f["evidence"]["attempts"], f["evidence"]["items"])
                               for f in summary["findings"])
    return found


def test_mixed_job_gives_the_same_summary_as_with_httpx(debug_pipeline, make_sim) -> None:
    """Same items, same simulator state, each client: the same counts, breakdown, items and findings.

    The connection figures are left out of the comparison: both pools open
    one connection per request in flight and reuse it, but aiohttp silently
    resends an idempotent request once when a kept-alive connection turns
    out closed (httpx records that attempt as a failure), and the pools
    pick free connections in their own order.
    """
    jobs = {}
    for client in ("httpx", "aiohttp"):
        sim = make_sim("mixed", seed=3)  # fresh: the profile counts each item's attempts
        ids = sim.demo_item_ids(40, seed=3)
        config = WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=4, **FAST)
        if client == "httpx":
            result = run_job(config, ids, "mixed-httpx")
        else:
            result = asyncio.run(run_job_aiohttp(config, ids, "mixed-aiohttp"))
        data = _load(debug_pipeline, f"mixed-{client}")
        jobs[client] = data
        assert data["summary"]["total_requests"] == result.requests == len(data["requests"])
        assert data["summary"]["items_failed"] == result.failed > 0
    httpx_job, aiohttp_job = jobs["httpx"], jobs["aiohttp"]
    assert _comparable(aiohttp_job["summary"]) == _comparable(httpx_job["summary"])
    assert {i["item_id"]: i["outcome"] for i in aiohttp_job["items"]} == \
        {i["item_id"]: i["outcome"] for i in httpx_job["items"]}
    records = aiohttp_job["requests"]
    assert Counter(r["method"] for r in records) == Counter(r["method"] for r in httpx_job["requests"])
    assert all(r["ttfb_ms"] is not None and r["connection_reused"] is not None for r in records)
    errors = [r for r in records if r["status_code"] >= 400 and r["method"] == "GET"]
    assert errors and all(r["error_body"] and r["request_headers"] for r in errors)
    assert aiohttp_job["summary"]["connections"]["new"] >= 1


def test_a_session_per_request_is_recognised_as_connection_churn(debug_pipeline, sim) -> None:
    ids = sim.item_ids[:10]
    for strategy in ("shared", "per-request"):
        config = WorkerConfig(server=sim.url, api_key=API_KEY, session_strategy=strategy, **FAST)
        asyncio.run(run_job_aiohttp(config, ids, strategy))
    shared, per = _load(debug_pipeline, "shared")["summary"], _load(debug_pipeline, "per-request")["summary"]
    assert (shared["sessions_created"], shared["connections"]["new"], shared["connections"]["reused"]) == (1, 1, 29)
    assert shared["findings"] == []
    assert (per["sessions_created"], per["connections"]["new"], per["connections"]["reused"]) == (30, 30, 0)
    assert [f["id"] for f in per["findings"]] == ["connection_churn"]
    assert per["findings"][0]["evidence"]["sessions_created"] == 30


def test_the_key_never_appears_in_the_job_file_or_the_spans(debug_pipeline, recorded_spans, make_sim,
                                                            debug_dir: Path) -> None:
    sim = make_sim("mixed", seed=5)
    ids = sim.demo_item_ids(8, seed=5)
    for auth in ("header", "legacy-header", "query"):  # Token="...", X-Emby-Token, ApiKey=
        asyncio.run(run_job_aiohttp(WorkerConfig(server=sim.url, api_key=API_KEY, auth=auth, **FAST), ids,
                                    f"secret-{auth}"))
        data = _load(debug_pipeline, f"secret-{auth}")
        assert "[REDACTED]" in json.dumps(data["requests"])  # the key was there, and is gone
        assert {r.get("credential_form") for r in data["requests"] if r["route"] == "/Items/{itemId}"} != {None}

    async def outside_any_job() -> int:  # debug on, no job: the stock instrumentation's span
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{sim.url}/Items/{sim.item_ids[0]}", params={"ApiKey": API_KEY}) as response:
                return response.status

    before = OUTSIDE.value
    assert asyncio.run(outside_any_job()) == 200
    assert OUTSIDE.value == before + 1
    debug_pipeline.flush(10)
    assert scan_for_secret(debug_dir) == []
    spans = recorded_spans.get_finished_spans()
    stock = [s for s in spans if s.instrumentation_scope.name == "opentelemetry.instrumentation.aiohttp_client"]
    assert len(stock) == 1 and "[REDACTED]" in json.dumps(dict(stock[0].attributes or {}))
    assert all(API_KEY not in span.to_json() for span in spans)


def test_debug_off_records_nothing_and_adds_no_trace_config(off_pipeline, recorded_spans, sim,
                                                            debug_dir: Path) -> None:
    async def job() -> list:
        async with job_span("off-job"):
            async with aiohttp.ClientSession() as session:
                seen = list(session.trace_configs)  # what aiohttp would run for a request now
                async with item_span(sim.item_ids[0]):
                    async with session.get(f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary") as response:
                        assert response.status == 200 and await response.read()
        return seen

    assert asyncio.run(job()) == []
    off_pipeline.flush(10)
    assert off_pipeline.job_file("off-job") is None
    assert list(debug_dir.glob("job_*.json")) == []
    assert recorded_spans.get_finished_spans() == ()


def test_suppressed_requests_are_never_traced(debug_pipeline, recorded_spans, sim) -> None:
    url = f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary"

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            with suppress_http_instrumentation():  # as exporters and our server probe do
                async with session.get(url) as response:
                    await response.read()
            async with job_span("suppressed"):
                async with item_span(sim.item_ids[0]):
                    with suppress_http_instrumentation():
                        async with session.head(url) as response:
                            await response.read()
                    async with session.get(url) as response:
                        await response.read()

    before = OUTSIDE.value
    asyncio.run(run())
    assert OUTSIDE.value == before  # the suppressed request outside the job was not counted either
    records = _load(debug_pipeline, "suppressed")["requests"]
    assert [(r["method"], r["status_code"]) for r in records] == [("GET", 200)]
    scopes = {s.instrumentation_scope.name for s in recorded_spans.get_finished_spans()}
    assert "opentelemetry.instrumentation.aiohttp_client" not in scopes


def test_each_redirect_hop_is_an_attempt_of_its_own(debug_pipeline, make_sim) -> None:
    sim = make_sim("redirects")  # the image route answers 302 to /cdn/posters/{id}.png
    item = sim.item_ids[0]
    result = asyncio.run(run_job_aiohttp(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), [item], "hops"))
    assert result.failed == 0
    records = _load(debug_pipeline, "hops")["requests"]
    assert [(r["method"], r["url"].split("/", 3)[-1], r["status_code"], r.get("redirect_to")) for r in records] == [
        ("GET", f"Items/{item}", 200, None),
        ("HEAD", f"Items/{item}/Images/Primary", 302, f"/cdn/posters/{item}.png"),
        ("HEAD", f"cdn/posters/{item}.png", 200, None),
        ("GET", f"Items/{item}/Images/Primary", 302, f"/cdn/posters/{item}.png"),
        ("GET", f"cdn/posters/{item}.png", 200, None),
    ]
    assert records[-1]["body_bytes"] == result.items[0].size_bytes > 0


def test_an_error_body_is_recorded_and_still_readable_by_the_caller(debug_pipeline, sim) -> None:
    async def job() -> str:
        async with job_span("error-body"):
            async with aiohttp.ClientSession() as session:
                async with item_span("zz"):
                    async with session.get(f"{sim.url}/Items/not-a-guid/Images/Primary") as response:
                        assert response.status == 400
                        return await response.text()

    body = asyncio.run(job())
    record = _load(debug_pipeline, "error-body")["requests"][0]
    assert "not valid" in body and record["error_body"] == body[:2048]
    assert record["error_body_bytes"] == len(body) and record["body_bytes"] == len(body)


def test_a_body_cut_mid_way_fails_its_attempt_in_the_body_phase(debug_pipeline, make_sim) -> None:
    sim = make_sim("body-drop")
    ids = sim.item_ids[:7]  # the 7th item's poster is cut off half-way, on every attempt
    config = WorkerConfig(server=sim.url, api_key=API_KEY, max_attempts=2, **FAST)
    result = asyncio.run(run_job_aiohttp(config, ids, "cut"))
    assert [i.item_id for i in result.items if not i.ok] == [ids[6]]
    data = _load(debug_pipeline, "cut")
    cut = [r for r in data["requests"] if r.get("error_phase") is not None]
    assert [(r["item_id"], r["method"], r["status_code"], r["error_phase"]) for r in cut] == \
        [(ids[6], "GET", 200, "body")] * 2
    assert all(0 < r["body_bytes"] and r["error_type"] == "ClientPayloadError" for r in cut)
    assert "body_cut_off" in [f["id"] for f in data["summary"]["findings"]]


def test_a_request_cut_by_closing_its_session_is_aborted_not_a_server_failure(debug_pipeline, make_sim) -> None:
    sim = make_sim("healthy", shapes=Shapes(headers_stall_every=1, stall_seconds=1.0))  # no answer for 1 s

    async def job() -> BaseException | None:
        async with job_span("closed-under"):
            session = aiohttp.ClientSession()

            async def lookup() -> None:
                async with item_span(sim.item_ids[0]):
                    async with session.get(f"{sim.url}/Items/{sim.item_ids[0]}",
                                           headers={"X-Emby-Token": API_KEY}) as response:
                        await response.read()

            task = asyncio.create_task(lookup())
            await asyncio.sleep(0.2)
            await session.close()
            return (await asyncio.gather(task, return_exceptions=True))[0]

    assert isinstance(asyncio.run(job()), aiohttp.ClientConnectionError)
    records = _load(debug_pipeline, "closed-under")["requests"]
    assert [(r["status_code"], r["error_phase"], r["credential_form"]) for r in records] == \
        [(None, "aborted", "x-emby-token")]
