"""HAR 1.2 export (``collector.har``): real recorded jobs become archives the HAR JSON Schema accepts.

Jobs are recorded the real way (the reference worker against the bundled
Jellyfin simulator, through the instrumentation pipeline); the schema is the
npm package ``har-schema``'s, vendored under ``tests/data/har-schema/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batch_debug.collector import har, jobfile
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from har_support import har_errors
from otlp_support import free_port
from support import API_KEY, NO_WAIT, REPO

V1_FILE = REPO / "tests" / "data" / "job_v1-fixture_20261129_144406.json"


def _record_job(server: str, items: list[str], job_id: str) -> dict[str, Any]:
    result = run_job(WorkerConfig(server=server, api_key=API_KEY, timeout=2.0, **NO_WAIT), items, job_id=job_id)
    assert result.job_file is not None, "the pipeline wrote no job file"
    return jobfile.load(result.job_file)


def _timing_sum(entry: dict[str, Any]) -> float:
    return round(sum(v for k, v in entry["timings"].items() if k != "ssl" and v >= 0), 3)


def _check_entries_follow_records(archive: dict[str, Any], requests: list[dict[str, Any]]) -> None:
    entries = archive["log"]["entries"]
    assert len(entries) == len(requests)
    for entry, record in zip(entries, requests, strict=True):
        assert entry["request"]["method"] == record["method"]
        assert entry["request"]["url"] == record["url"]
        assert entry["response"]["status"] == (record["status_code"] or 0)
        assert entry["time"] == _timing_sum(entry), entry["timings"]
        assert entry["_batch_debug"]["item_id"] == record["item_id"]
        assert entry["_batch_debug"]["attempt"] == record["attempt"]


def test_a_mixed_job_becomes_a_valid_har_with_one_entry_per_attempt(debug_pipeline, make_sim) -> None:
    sim = make_sim("mixed", seed=42)
    document = _record_job(sim.url, sim.demo_item_ids(10), "har-mixed")
    archive = har.from_job(document)
    assert har_errors(archive) == []
    log = archive["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "batch-debug"
    _check_entries_follow_records(archive, document["requests"])
    statuses = {entry["response"]["status"] for entry in log["entries"]}
    assert {200, 400, 404, 500} <= statuses  # the mixed profile's failures are all there
    methods = {entry["request"]["method"] for entry in log["entries"]}
    assert methods == {"GET", "HEAD"}
    for entry, record in zip(log["entries"], document["requests"], strict=True):
        assert entry["pageref"] == log["pages"][0]["id"]
        if record["status_code"] >= 400:
            # The redacted headers and the readable error body, as the record holds them.
            assert entry["request"]["headers"] == [{"name": k, "value": v}
                                                   for k, v in record["request_headers"].items()]
            assert {"name": "content-type", "value": record["content_type"]} in entry["response"]["headers"]
            assert entry["response"]["content"].get("text", "") == record["error_body"]
            assert entry["response"]["content"]["mimeType"] == record["content_type"]
        else:
            assert "text" not in entry["response"]["content"]
            assert entry["response"]["content"]["size"] == record["body_bytes"]
        if record.get("connect_ms") is None:
            assert entry["timings"]["connect"] == -1  # a reused connection: HAR's "does not apply"
        else:
            assert entry["timings"]["connect"] >= record["connect_ms"]
        assert entry["timings"]["wait"] == record["ttfb_ms"]
        assert entry["timings"]["receive"] == record["body_ms"]
    # Entries start when their attempts did: in the file's order, offsets kept.
    starts = [entry["startedDateTime"] for entry in log["entries"]]
    assert starts == sorted(starts)


def test_redirect_hops_are_entries_of_their_own(debug_pipeline, make_sim) -> None:
    sim = make_sim("redirects", seed=3)
    document = _record_job(sim.url, sim.demo_item_ids(3), "har-redirects")
    archive = har.from_job(document)
    assert har_errors(archive) == []
    _check_entries_follow_records(archive, document["requests"])
    entries = archive["log"]["entries"]
    hops = [i for i, e in enumerate(entries) if 300 <= e["response"]["status"] < 400]
    assert hops, "the redirects profile answered no redirect"
    for i in hops:
        target = entries[i]["response"]["redirectURL"]
        assert target == document["requests"][i]["redirect_to"] != ""
        assert {"name": "location", "value": target} in entries[i]["response"]["headers"]
        assert entries[i + 1]["request"]["url"].endswith(target)  # the hop followed is the next entry


def test_an_attempt_that_got_no_answer_is_status_0_with_its_error(debug_pipeline) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    document = _record_job(nothing_listens, ["0123456789abcdef0123456789abcdef"], "har-refused")
    archive = har.from_job(document)
    assert har_errors(archive) == []
    _check_entries_follow_records(archive, document["requests"])
    assert document["requests"], "the worker made no attempt"
    for entry, record in zip(archive["log"]["entries"], document["requests"], strict=True):
        response = entry["response"]
        assert record["status_code"] is None and record["error_type"] == "ConnectError"
        assert (response["status"], response["statusText"], response["httpVersion"]) == (0, "", "")
        assert response["_error"] == "ConnectError (connect)"
        assert response["bodySize"] == -1
        assert entry["_batch_debug"]["error_type"] == "ConnectError"
        # The attempt's whole time went to connecting: that is where it failed.
        assert entry["timings"]["connect"] == pytest.approx(record["duration_ms"], abs=0.002)
        assert entry["time"] == _timing_sum(entry)


def test_a_format_1_job_file_becomes_a_valid_har() -> None:
    document = json.loads(V1_FILE.read_text(encoding="utf-8"))
    archive = har.from_job(document)
    assert har_errors(archive) == []
    _check_entries_follow_records(archive, document["requests"])
    assert archive["log"]["pages"][0]["startedDateTime"].startswith(document["started_at"][:19])


def test_tls_counts_inside_connect_and_not_twice_in_time() -> None:
    record = {"method": "GET", "url": "https://jf.example/Items/1?Fields=a&ApiKey=%5BREDACTED%5D", "attempt": 1,
              "status_code": 200, "duration_ms": 20.0, "connect_ms": 3.0, "tls_ms": 5.0, "ttfb_ms": 9.0,
              "body_ms": 2.0, "start_offset_ms": 1.5, "http_version": "HTTP/2", "body_bytes": 10}
    archive = har.from_job({"job_id": "tls", "started_at": "2026-01-02T03:04:05+00:00", "requests": [record]})
    assert har_errors(archive) == []
    entry = archive["log"]["entries"][0]
    assert entry["timings"] == {"blocked": 1.0, "dns": -1, "connect": 8.0, "ssl": 5.0, "send": 0, "wait": 9.0,
                                "receive": 2.0}
    assert entry["time"] == 20.0  # = duration_ms: ssl is inside connect, not added again
    assert entry["startedDateTime"] == "2026-01-02T03:04:05.001Z"
    assert entry["request"]["queryString"] == [{"name": "Fields", "value": "a"},
                                               {"name": "ApiKey", "value": "[REDACTED]"}]


@pytest.mark.parametrize("damaged", [{"job_id": "x"}, {"requests": {"a": 1}}, {"requests": [1, 2]}])
def test_a_document_without_request_records_is_refused(damaged: dict[str, Any]) -> None:
    with pytest.raises(har.HarError):
        har.from_job(damaged)


def test_the_vendored_schema_refuses_what_is_not_har() -> None:
    archive = har.from_job(json.loads(V1_FILE.read_text(encoding="utf-8")))
    entry = archive["log"]["entries"][0]
    del entry["timings"]["wait"]
    entry["response"]["status"] = "200"
    entry["request"]["headers"] = [{"name": "accept"}]
    errors = har_errors(archive)
    assert "$.log.entries[0].timings: 'wait' is a required property" in errors
    assert "$.log.entries[0].response.status: '200' is not of type 'integer'" in errors
    assert "$.log.entries[0].request.headers[0]: 'value' is a required property" in errors  # via header.json
    assert har_errors({"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": []}}) == []
    assert Path(REPO / "tests" / "data" / "har-schema" / "LICENSE").read_text().startswith("Copyright")
