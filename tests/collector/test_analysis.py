"""Tests for batch_debug.collector.analysis (pure functions: records in, dicts out)."""

from __future__ import annotations

from typing import Any

import pytest

from batch_debug.collector import analysis
from batch_debug.collector.analysis import (
    diagnose,
    environment,
    failure_patterns,
    latency_percentiles,
    render_text,
    status_key,
    summarize,
)


def req(item_id: str | None = "a", status: int | None = 200, *, attempt: int = 1,
        error: str | None = None, dur: float | None = 10.0, reused: bool | None = True,
        **extra: Any) -> dict[str, Any]:
    """One request record as the collector builds it."""
    record = {"item_id": item_id, "attempt": attempt, "method": "GET",
              "url": f"http://jf/Items/{item_id}/Images/Primary", "status_code": status,
              "error_type": error, "duration_ms": dur, "connection_reused": reused}
    record.update(extra)
    return record


def item(item_id: str, ok: bool = True, error: str | None = None) -> dict[str, Any]:
    return {"item_id": item_id, "outcome": "succeeded" if ok else "failed",
            "error": error, "duration_ms": 12.0}


# --- status_key -------------------------------------------------------------

@pytest.mark.parametrize("record, key", [
    ({"status_code": 200}, "200"),
    ({"status_code": 302}, "302"),
    ({"status_code": 503, "error_type": "HTTPStatusError"}, "503"),  # an error type alone is no body failure
    ({"status_code": 200, "error_type": "ReadTimeout", "error_phase": "body"}, "ReadTimeout"),
    ({"status_code": None, "error_type": "ConnectError"}, "ConnectError"),
    ({"error_type": "ReadTimeout"}, "ReadTimeout"),
    ({}, "NetworkError"),
])
def test_status_key(record, key):
    assert status_key(record) == key


# --- failure_patterns -------------------------------------------------------

@pytest.mark.parametrize("status, error, pattern", [
    (400, None, "invalid_item_id"),
    (401, None, "auth"),
    (403, None, "auth"),
    (404, None, "not_found"),
    (429, None, "rate_limited"),
    (500, None, "server_error"),
    (502, None, "server_error"),
    (503, None, "server_error"),
    (504, None, "server_error"),
    (405, None, "client_error"),
    (413, None, "client_error"),
    (None, "ConnectError", "network:ConnectError"),
    (None, "ReadTimeout", "network:ReadTimeout"),
    (None, None, "network:NetworkError"),
    (200, "ReadTimeout", "body:ReadTimeout"),
    (200, "RemoteProtocolError", "body:RemoteProtocolError"),
])
def test_each_failure_is_grouped_under_its_pattern(status, error, pattern):
    phase = {"error_phase": "body"} if status is not None and error else {}
    record = req("x", status, error=error, **phase)
    patterns = failure_patterns([record])
    assert [p["pattern"] for p in patterns] == [pattern]
    assert patterns[0]["count"] == 1
    assert patterns[0]["status_codes"] == {status_key(record): 1}


@pytest.mark.parametrize("status", [200, 204, 301, 302, 304])
def test_2xx_and_3xx_are_not_failures(status):
    assert failure_patterns([req("x", status)]) == []


def test_redirect_hops_count_in_totals_but_not_in_the_success_rate():
    requests = [req("a", 302, redirect_to="/cdn/a.png"), req("a", 200), req("b", 302), req("b", 200)]
    s = summarize("hops", requests, [item("a"), item("b")], duration_seconds=1)
    assert (s["total_requests"], s["successful_requests"], s["failed_requests"], s["other_requests"]) == (4, 2, 0, 2)
    assert s["status_code_breakdown"] == {"302": 2, "200": 2}
    assert s["success_rate_percent"] == 100.0
    assert s["findings"] == [] and s["recommendations"][0].startswith("No problems found")


def test_a_body_that_broke_off_fails_the_attempt_and_keeps_its_status():
    broken = req("a", 200, error="ReadTimeout", error_phase="body", body_bytes=1000)
    s = summarize("body", [broken, req("b", 200)], [item("a", False), item("b")], duration_seconds=1)
    assert (s["successful_requests"], s["failed_requests"], s["success_rate_percent"]) == (1, 1, 50.0)
    assert s["status_code_breakdown"] == {"ReadTimeout": 1, "200": 1}
    assert [p["pattern"] for p in s["failure_patterns"]] == ["body:ReadTimeout"]


def test_failure_patterns_full_shape_order_and_recovery():
    requests = [
        req("a", 503), req("a", 200, attempt=2),                 # recovered
        req("b", 503), req("b", 503, attempt=2),                 # not recovered
        req("c", 401), req("d", 403), req("d", 403, attempt=2),  # 401 and 403 kept apart
        req("e", None, error="ReadTimeout"),
        req("f", 200),
    ]
    items = [item("a"), item("b", False), item("c", False), item("d", False), item("e", False), item("f")]
    assert failure_patterns(requests, items) == [
        {"pattern": "auth", "description": analysis._DESCRIPTIONS["auth"], "count": 3,
         "status_codes": {"401": 1, "403": 2}, "items_affected": 2,
         "example_item_ids": ["c", "d"], "recovered_items": 0},
        {"pattern": "server_error", "description": analysis._DESCRIPTIONS["server_error"], "count": 3,
         "status_codes": {"503": 3}, "items_affected": 2,
         "example_item_ids": ["a", "b"], "recovered_items": 1},
        {"pattern": "network:ReadTimeout",
         "description": "ReadTimeout: the request got no HTTP response (network error).",
         "count": 1, "status_codes": {"ReadTimeout": 1}, "items_affected": 1,
         "example_item_ids": ["e"], "recovered_items": 0},
    ]


def test_failure_patterns_examples_are_capped_distinct_and_first_seen():
    requests = [req(f"id{i}", 404) for i in (3, 1, 3, 2, 5, 4, 6, 1)]
    (pattern,) = failure_patterns(requests)
    assert pattern["example_item_ids"] == ["id3", "id1", "id2", "id5", "id4"]
    assert (pattern["count"], pattern["items_affected"], pattern["recovered_items"]) == (8, 6, 0)


# --- latency_percentiles ----------------------------------------------------

def test_percentiles_on_a_known_list_use_linear_interpolation():
    requests = [req(dur=float(v)) for v in (10, 1, 9, 2, 8, 3, 7, 4, 6, 5)]
    requests.append(req(dur=None))  # a network error without duration is skipped
    assert latency_percentiles(requests) == {
        "p50_ms": 5.5, "p90_ms": 9.1, "p95_ms": 9.55, "p99_ms": 9.91, "max_ms": 10.0, "mean_ms": 5.5}


def test_percentiles_single_value_and_empty():
    assert latency_percentiles([req(dur=12.345)]) == dict.fromkeys(
        ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"), 12.35)
    assert latency_percentiles([]) == dict.fromkeys(
        ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"))


# --- environment ------------------------------------------------------------

def test_environment_figures():
    info = {"ServerName": "media", "Version": "10.10.3", "ProductName": "Jellyfin Server",
            "OperatingSystem": "Linux", "Id": "abc", "LocalAddress": "http://10.0.0.2:8096"}
    requests = [req(server="Kestrel", http_version="HTTP/1.1", reused=False),
                req(server="Kestrel", http_version="HTTP/1.1", reused=True),
                req(server="nginx", http_version="HTTP/2", reused=True),
                req(None, None, error="ConnectError", dur=None, reused=None)]
    env = environment(info, requests)
    assert env == {
        "server_info": {"ServerName": "media", "Version": "10.10.3", "ProductName": "Jellyfin Server",
                        "OperatingSystem": "Linux", "Id": "abc"},
        "server_info_error": None,
        "server_header": "Kestrel",
        "server_headers": {"Kestrel": 2, "nginx": 1},
        "http_versions": {"HTTP/1.1": 2, "HTTP/2": 1},
        "latency_ms": latency_percentiles(requests),
        "ttfb_ms": latency_percentiles(requests, "ttfb_ms"),
        "connections": {"new": 1, "reused": 2, "unknown": 1, "new_share_percent": 33.3},
        "is_jellyfin": True,
    }


@pytest.mark.parametrize("info, server, expected", [
    ({"ProductName": "Jellyfin Server"}, None, True),
    ({"ProductName": "Emby Server"}, "Kestrel", False),  # ProductName wins when known
    (None, "Kestrel", True),
    (None, "Jellyfin/10.9", True),
    (None, "nginx", None),
    (None, None, None),
])
def test_environment_is_jellyfin(info, server, expected):
    assert environment(info, [req(server=server)])["is_jellyfin"] is expected


def test_environment_without_server_info_keeps_the_error():
    env = environment(None, [], server_info_error="ConnectError: refused")
    assert (env["server_info"], env["server_info_error"], env["server_header"]) == (
        None, "ConnectError: refused", None)
    assert env["connections"] == {"new": 0, "reused": 0, "unknown": 0, "new_share_percent": None}


# --- summarize ----------------------------------------------------------------

DESIGN_KEYS = {"job_id", "debug_enabled", "duration_seconds", "total_requests", "successful_requests",
               "failed_requests", "success_rate_percent", "status_code_breakdown", "items_total",
               "items_succeeded", "items_failed", "failure_patterns", "recommendations"}
EXTRA_KEYS = {"other_requests", "item_success_rate_percent", "retries", "connections", "latency_ms",
              "sessions_created", "dropped_spans", "dropped_records", "complete", "job_error", "items_started",
              "items_unfinished", "items_not_started", "findings", "peak_concurrency", "requests_outside_jobs"}


def mixed_job() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    requests = [req("a", 200, method="HEAD"), req("a", 200),
                req("b", 503), req("b", 200, attempt=2),
                req("c", 404), req("d", None, error="ConnectError", dur=None, reused=None),
                req("d", None, error="ConnectError", attempt=2, dur=None, reused=None),
                req("e", 304)]
    items = [item("a"), item("b"), item("c", False), item("d", False), item("e")]
    return requests, items


def test_summary_counts_add_up():
    requests, items = mixed_job()
    s = summarize("job1", requests, items, duration_seconds=1.23456, sessions_created=1, dropped_spans=2)
    assert set(s) == DESIGN_KEYS | EXTRA_KEYS
    assert {k: s[k] for k in ("job_id", "duration_seconds", "total_requests", "successful_requests",
                              "failed_requests", "other_requests", "success_rate_percent",
                              "status_code_breakdown", "items_total", "items_succeeded", "items_failed",
                              "item_success_rate_percent", "retries", "connections", "sessions_created",
                              "dropped_spans")} == {
        "job_id": "job1", "duration_seconds": 1.235, "total_requests": 8, "successful_requests": 3,
        "failed_requests": 4, "other_requests": 1, "success_rate_percent": 42.9,
        "status_code_breakdown": {"200": 3, "503": 1, "404": 1, "ConnectError": 2, "304": 1},
        "items_total": 5, "items_succeeded": 3, "items_failed": 2, "item_success_rate_percent": 60.0,
        "retries": 2, "connections": {"new": 0, "reused": 6, "unknown": 2, "new_share_percent": 0.0},
        "sessions_created": 1, "dropped_spans": 2}
    assert sum(s["status_code_breakdown"].values()) == s["total_requests"]
    assert s["successful_requests"] + s["failed_requests"] + s["other_requests"] == s["total_requests"]
    assert s["items_succeeded"] + s["items_failed"] == s["items_total"]
    assert sum(p["count"] for p in s["failure_patterns"]) == s["failed_requests"]
    assert s["failure_patterns"] == failure_patterns(requests, items)
    findings, advice = diagnose(requests, items, sessions_created=1)
    assert (s["findings"], s["recommendations"]) == (findings, advice)


def test_empty_job():
    s = summarize("empty", [], [], duration_seconds=0.0, debug_enabled=False)
    assert s == {
        "job_id": "empty", "debug_enabled": False, "complete": True, "job_error": None, "duration_seconds": 0.0,
        "total_requests": 0, "successful_requests": 0, "failed_requests": 0, "other_requests": 0,
        "success_rate_percent": None, "status_code_breakdown": {}, "items_total": 0, "items_started": 0,
        "items_succeeded": 0, "items_failed": 0, "items_unfinished": 0, "items_not_started": 0,
        "item_success_rate_percent": None, "failure_patterns": [], "findings": [],
        "recommendations": ["Nothing was recorded for this job: no HTTP request and no item, so there is "
                            "nothing to analyse."],
        "retries": 0, "connections": {"new": 0, "reused": 0, "unknown": 0, "new_share_percent": None},
        "peak_concurrency": 0,
        "latency_ms": dict.fromkeys(("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")),
        "sessions_created": None, "requests_outside_jobs": 0, "dropped_spans": 0, "dropped_records": 0}


def test_the_jobs_life_counts_declared_started_and_unfinished_items():
    life = {"ended": True, "complete": False, "items_declared": 40, "items_started": 21,
            "error": {"type": "ValueError", "message": "bad row 21"}}
    items = [item(f"i{n}") for n in range(18)] + [item("i18", False), item("i19", False)]
    s = summarize("crash", [req(f"i{n}") for n in range(20)], items, duration_seconds=1, life=life)
    assert (s["items_total"], s["items_started"], s["items_succeeded"], s["items_failed"], s["items_unfinished"],
            s["items_not_started"]) == (40, 21, 18, 2, 1, 19)
    assert s["item_success_rate_percent"] == 45.0 and s["complete"] is False
    assert s["job_error"] == {"type": "ValueError", "message": "bad row 21"}


def test_missing_keys_are_read_as_none():
    s = summarize("sparse", [{"status_code": 200}, {}], [{"item_id": "a"}], duration_seconds=1)
    assert (s["successful_requests"], s["failed_requests"], s["status_code_breakdown"]) == (
        1, 1, {"200": 1, "NetworkError": 1})
    assert (s["items_succeeded"], s["items_failed"]) == (0, 1)  # no outcome counts as failed


# --- render_text ----------------------------------------------------------------

def test_render_text_contains_the_key_figures():
    requests, items = mixed_job()
    text = render_text(summarize("job1", requests, items, duration_seconds=1.5, sessions_created=1))
    lines = text.splitlines()
    assert lines[0] == "Batch debug summary: job job1"
    for expected in ("8 total, 3 ok, 4 failed, 1 other (42.9% success)",
                     "5 total, 3 succeeded, 2 failed (60.0% success)",
                     "Duration          1.5 s", "Retries           2",
                     "  200                3", "  ConnectError       2",
                     "- network:ConnectError: 2 attempts, 1 item, 0 recovered [ConnectError: 2]",
                     "- server_error: 1 attempt, 1 item, 1 recovered [503: 1]",
                     "Findings", "items_not_found (", "What to do: Re-scan the library"):
        assert expected in text, expected
    assert max(len(line) for line in lines) <= 100
    assert "\x1b" not in text


def test_render_text_handles_an_empty_or_old_summary():
    text = render_text({"job_id": "old", "total_requests": 0})
    assert "Batch debug summary: job old" in text and "(no requests)" in text and "(none)" in text
    assert "n/a" in text
