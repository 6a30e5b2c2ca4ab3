"""Property tests: any mix of request records gives a summary whose counts add up."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from batch_debug.collector.analysis import failure_patterns, recommendations, summarize

statuses = st.one_of(st.none(), st.sampled_from([200, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503, 504]))
error_types = st.sampled_from(["ConnectError", "ReadTimeout", "RemoteProtocolError", "ReadError"])


@st.composite
def request_record(draw):
    status = draw(statuses)
    return {
        "item_id": draw(st.sampled_from(["a", "b", "c", "d", None])),
        "attempt": draw(st.integers(1, 3)),
        "method": draw(st.sampled_from(["GET", "HEAD"])),
        "status_code": status,
        "error_type": draw(error_types) if status is None else None,
        "duration_ms": draw(st.floats(0, 5000, allow_nan=False)),
        "connection_reused": draw(st.sampled_from([True, False, None])),
        "server": draw(st.sampled_from(["Kestrel", None])),
        "http_version": "HTTP/1.1",
    }


item_record = st.builds(lambda item_id, ok: {"item_id": item_id, "outcome": "succeeded" if ok else "failed"},
                        st.sampled_from(["a", "b", "c", "d"]), st.booleans())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(request_record(), max_size=60), st.lists(item_record, max_size=10))
def test_summary_counts_add_up(requests, items) -> None:
    summary = summarize("prop", requests, items, duration_seconds=1.0)
    assert summary["total_requests"] == len(requests)
    assert sum(summary["status_code_breakdown"].values()) == len(requests)
    assert (summary["successful_requests"] + summary["failed_requests"] + summary["other_requests"]
            == summary["total_requests"])
    assert summary["items_succeeded"] + summary["items_failed"] == summary["items_total"] == len(items)
    failed = sum(1 for r in requests if r["status_code"] is None or r["status_code"] >= 400)
    assert sum(p["count"] for p in summary["failure_patterns"]) == failed == summary["failed_requests"]
    if requests:
        assert 0.0 <= summary["success_rate_percent"] <= 100.0


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(request_record(), max_size=40), st.lists(item_record, max_size=8))
def test_patterns_and_recommendations_are_well_formed(requests, items) -> None:
    for pattern in failure_patterns(requests, items):
        assert pattern["count"] >= 1
        assert len(pattern["example_item_ids"]) <= 5
        assert pattern["recovered_items"] <= pattern["items_affected"]
    advice = recommendations(requests, items)
    assert advice and len(advice) == len(set(advice))
    assert all(isinstance(line, str) and line for line in advice)
