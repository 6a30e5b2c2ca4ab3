"""Tests for batch_debug.collector.analysis (pure functions: records in, dicts out)."""

from __future__ import annotations

from typing import Any

import pytest

from batch_debug.collector import analysis
from batch_debug.collector.analysis import (
    environment,
    failure_patterns,
    latency_percentiles,
    recommendations,
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


def matching(recs: list[str], text: str) -> list[str]:
    return [r for r in recs if text in r]


# --- status_key -------------------------------------------------------------

@pytest.mark.parametrize("record, key", [
    ({"status_code": 200}, "200"),
    ({"status_code": 503, "error_type": "HTTPStatusError"}, "503"),
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
])
def test_each_failure_is_grouped_under_its_pattern(status, error, pattern):
    patterns = failure_patterns([req("x", status, error=error)])
    assert [p["pattern"] for p in patterns] == [pattern]
    assert patterns[0]["count"] == 1
    assert patterns[0]["status_codes"] == {status_key({"status_code": status, "error_type": error}): 1}


@pytest.mark.parametrize("status", [200, 204, 301, 304])
def test_2xx_and_3xx_are_not_failures(status):
    assert failure_patterns([req("x", status)]) == []


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


# --- recommendations ----------------------------------------------------------

def test_401_and_403_give_distinct_messages():
    requests = [req("a", 401), req("b", 403), req("c", 200)]
    recs = recommendations(requests, [item("a", False), item("b", False), item("c")])
    (unauth,) = matching(recs, "401 Unauthorized")
    (forbidden,) = matching(recs, "403 Forbidden")
    assert unauth.startswith("1 of 3 attempts (33.3%)") and "check the Jellyfin API key" in unauth
    assert "lacks permission" in forbidden and "b" in forbidden
    assert "403" not in unauth and "401" not in forbidden


def test_400_lists_up_to_five_example_ids():
    ids = [f"{i:032x}" for i in range(7)]
    recs = recommendations([req(i, 400) for i in ids], [item(i, False) for i in ids])
    (msg,) = matching(recs, "400 Bad Request")
    assert "verify poster IDs are valid" in msg and "re-scan the library" in msg
    assert ", ".join(ids[:5]) + " and 2 more" in msg and ids[5] not in msg


def test_404_rate_limit_and_503_messages():
    requests = [req("a", 404), req("b", 429, retry_after="5"), req("b", 200, attempt=2),
                req("c", 503), req("c", 503, attempt=2), req("c", 200, attempt=3)]
    recs = recommendations(requests, [item("a", False), item("b"), item("c")])
    assert matching(recs, "404 Not Found")[0].startswith("1 of 6 attempts (16.7%)")
    (rate,) = matching(recs, "429 Too Many Requests")
    assert "Retry-After: 5" in rate and "increase the request interval" in rate
    (busy,) = matching(recs, "503 Service Unavailable")
    assert busy.startswith("2 of 6 attempts (33.3%)")
    assert "increase the request interval to reduce server load" in busy
    assert matching(recs, "server logs") == []  # 503 alone is overload, not a server bug


def test_persistent_5xx_says_retries_will_not_help():
    requests = [req("bad", 500, attempt=n) for n in (1, 2, 3)] + [req("ok", 502), req("ok", 200, attempt=2)]
    env = environment({"ServerName": "media", "Version": "10.10.3"}, requests)
    recs = recommendations(requests, [item("bad", False), item("ok")], env)
    (logs,) = matching(recs, "check Jellyfin server logs")
    assert "(500: 3, 502: 1)" in logs and "(media 10.10.3)" in logs and "bad, ok" in logs
    (persistent,) = matching(recs, "retries won't help")
    assert persistent.startswith("1 item(s) got a 5xx answer on every attempt (bad (3 attempts))")


def test_5xx_that_recovered_is_not_called_persistent():
    requests = [req("a", 500), req("a", 200, attempt=2), req("b", 500)]  # b: a single attempt
    recs = recommendations(requests, [item("a"), item("b", False)])
    assert matching(recs, "retries won't help") == []
    assert len(matching(recs, "check Jellyfin server logs")) == 1


def test_timeouts_and_connection_errors():
    requests = [req("a", None, error="ReadTimeout", dur=30000.0), req("b", None, error="ReadTimeout"),
                req("c", None, error="ConnectTimeout"), req("d", None, error="ConnectError", reused=None),
                req("e", 200)]
    recs = recommendations(requests, [item(i, i == "e") for i in "abcde"])
    (timeouts,) = matching(recs, "timed out")
    assert timeouts.startswith("3 of 5 attempts (60.0%) timed out (ReadTimeout: 2, ConnectTimeout: 1)")
    assert "raise the client timeout" in timeouts
    (dropped,) = matching(recs, "connection errors")
    assert dropped.startswith("1 of 5 attempts (20.0%) failed with connection errors (ConnectError: 1)")


def test_slow_p95_states_the_figure():
    requests = [req(str(i), dur=d) for i, d in enumerate([100.0] * 18 + [2500.0, 3000.0])]
    recs = recommendations(requests, [item(str(i)) for i in range(20)])
    assert recs == [
        "Responses are slow: p95 latency is 2525 ms (p50 100 ms, max 3000 ms), above the 1000 ms "
        "threshold; check the server's CPU and disk load, and raise the client timeout or lower "
        "concurrency."]


def test_fast_responses_are_not_called_slow():
    requests = [req(str(i), dur=900.0) for i in range(20)]
    assert matching(recommendations(requests, []), "slow") == []


def test_session_advice_fires_on_new_connection_share():
    requests = [req(str(i), reused=i >= 15) for i in range(20)]  # 15 new, 5 reused
    recs = recommendations(requests, [item(str(i)) for i in range(20)], sessions_created=3)
    assert recs == [
        "15 of 20 attempts with known connection reuse (75.0%) opened a new connection, and the job "
        "created 3 HTTP sessions: reuse connections with the shared session strategy "
        "(--session-strategy shared)."]


def test_session_advice_does_not_fire_for_a_big_batch_with_reused_connections():
    # The seed's bug: it fired for any batch over 10 items.
    requests = [req(f"i{n}", reused=n > 0) for n in range(50)]
    recs = recommendations(requests, [item(f"i{n}") for n in range(50)], sessions_created=1)
    assert matching(recs, "session") == []
    assert recs == ["No problems found: none of 50 attempts or 50 items failed, with p95 latency 10 ms."]


@pytest.mark.parametrize("new, reused", [(9, 0), (5, 5), (0, 0)])
def test_session_advice_needs_enough_evidence_and_a_majority(new, reused):
    requests = [req(reused=False) for _ in range(new)] + [req(reused=True) for _ in range(reused)]
    requests += [req(reused=None) for _ in range(20)]  # unknown reuse is not evidence
    assert matching(recommendations(requests, []), "session strategy") == []


def test_per_request_strategy_only_for_stale_errors_on_reused_connections():
    base = [req(str(i)) for i in range(10)]
    stale = [req("x", None, error="RemoteProtocolError", reused=True), req("x", 200, attempt=2)]
    recs = recommendations(base + stale, [item("x")])
    (msg,) = matching(recs, "per-request")
    assert msg.startswith("1 attempt(s) failed with RemoteProtocolError/ReadError on reused keep-alive "
                          "connections (1 of those items succeeded on retry)")
    fresh = [req("x", None, error="RemoteProtocolError", reused=False), req("x", 200, attempt=2)]
    assert matching(recommendations(base + fresh, [item("x")]), "per-request") == []


def test_high_item_failure_rate_suggests_individual_processing():
    requests = [req("a", 404), req("b", 404), req("c", 200)]
    recs = recommendations(requests, [item("a", False), item("b", False), item("c")])
    (msg,) = matching(recs, "individual processing mode")
    assert msg.startswith("2 of 3 items (66.7%) failed") and "batch-debug run-job" in msg
    assert "e.g. a, b." in msg
    half = recommendations([req("a", 404), req("c", 200)], [item("a", False), item("c")])
    assert matching(half, "individual processing mode") == []  # 50% is not > 50%


def test_item_failing_without_failed_request_is_reported():
    recs = recommendations([req("a", 200)], [item("a", False, error="image decode failed")])
    assert matching(recs, "without a failed HTTP attempt (e.g. a: image decode failed)")


def test_recommendation_order_and_no_duplicates():
    requests = ([req("a", 401), req("a", 401, attempt=2), req("b", 400), req("c", 404), req("d", 429),
                 req("e", 503), req("f", 500), req("f", 500, attempt=2),
                 req("g", None, error="ReadTimeout")]
                + [req(f"n{i}", reused=False, dur=5000.0) for i in range(12)])
    items = [item(i, False) for i in "abcdefg"] + [item(f"n{i}") for i in range(12)]
    recs = recommendations(requests, items, sessions_created=12)
    markers = ["401 Unauthorized", "400 Bad Request", "404 Not Found", "429 Too Many", "503 Service",
               "check Jellyfin server logs", "retries won't help", "timed out", "Responses are slow",
               "shared session strategy"]
    assert [next(i for i, r in enumerate(recs) if m in r) for m in markers] == list(range(len(markers)))
    assert len(recs) == len(set(recs)) == len(markers)


# --- summarize ----------------------------------------------------------------

DESIGN_KEYS = {"job_id", "debug_enabled", "duration_seconds", "total_requests", "successful_requests",
               "failed_requests", "success_rate_percent", "status_code_breakdown", "items_total",
               "items_succeeded", "items_failed", "failure_patterns", "recommendations"}
EXTRA_KEYS = {"other_requests", "item_success_rate_percent", "retries", "connections", "latency_ms",
              "sessions_created", "dropped_spans"}


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
        "failed_requests": 4, "other_requests": 1, "success_rate_percent": 37.5,
        "status_code_breakdown": {"200": 3, "503": 1, "404": 1, "ConnectError": 2, "304": 1},
        "items_total": 5, "items_succeeded": 3, "items_failed": 2, "item_success_rate_percent": 60.0,
        "retries": 2, "connections": {"new": 0, "reused": 6, "unknown": 2, "new_share_percent": 0.0},
        "sessions_created": 1, "dropped_spans": 2}
    assert sum(s["status_code_breakdown"].values()) == s["total_requests"]
    assert s["successful_requests"] + s["failed_requests"] + s["other_requests"] == s["total_requests"]
    assert s["items_succeeded"] + s["items_failed"] == s["items_total"]
    assert sum(p["count"] for p in s["failure_patterns"]) == s["failed_requests"]
    assert s["failure_patterns"] == failure_patterns(requests, items)
    assert s["recommendations"] == recommendations(requests, items, sessions_created=1)


def test_empty_job():
    s = summarize("empty", [], [], duration_seconds=0.0, debug_enabled=False)
    assert s == {
        "job_id": "empty", "debug_enabled": False, "duration_seconds": 0.0, "total_requests": 0,
        "successful_requests": 0, "failed_requests": 0, "other_requests": 0,
        "success_rate_percent": None, "status_code_breakdown": {}, "items_total": 0,
        "items_succeeded": 0, "items_failed": 0, "item_success_rate_percent": None,
        "failure_patterns": [],
        "recommendations": ["No HTTP requests were recorded for this job, so there is nothing to analyse."],
        "retries": 0, "connections": {"new": 0, "reused": 0, "unknown": 0, "new_share_percent": None},
        "latency_ms": dict.fromkeys(("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")),
        "sessions_created": None, "dropped_spans": 0}


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
    for expected in ("8 total, 3 ok, 4 failed, 1 other (37.5% success)",
                     "5 total, 3 succeeded, 2 failed (60.0% success)",
                     "Duration          1.5 s", "Retries           2",
                     "  200                3", "  ConnectError       2",
                     "- network:ConnectError: 2 attempts, 1 items, 0 recovered [ConnectError: 2]",
                     "- server_error: 1 attempts, 1 items, 1 recovered [503: 1]",
                     "   1. 1 of 8 attempts (12.5%) were answered 404 Not Found",
                     "\n      deleted from Jellyfin after selection"):
        assert expected in text, expected
    assert max(len(line) for line in lines) <= 100
    assert "\x1b" not in text


def test_render_text_handles_an_empty_or_old_summary():
    text = render_text({"job_id": "old", "total_requests": 0})
    assert "Batch debug summary: job old" in text and "(no requests)" in text and "(none)" in text
    assert "n/a" in text
