"""Property tests: any mix of records and job lives gives a summary whose counts add up and findings that hold."""

from __future__ import annotations

import json
import math
from array import array

from hypothesis import given, settings, strategies as st

from batch_debug.collector import analysis
from batch_debug.collector.analysis import diagnose, failure_patterns, summarize
from batch_debug.collector.ranks import nth_smallest, sorted_runs
from batch_debug.collector.attempts import failed as is_failed
from batch_debug.collector.diagnosis import FINDING_IDS

statuses = st.one_of(st.none(), st.sampled_from([200, 204, 301, 302, 400, 401, 403, 404, 418, 429, 500, 502, 503,
                                                 504]))
error_types = st.sampled_from(["ConnectError", "ReadTimeout", "RemoteProtocolError", "ReadError", "PoolTimeout"])
COMMON_EVIDENCE = {"attempts", "items", "example_item_ids", "window_ms", "status_codes", "servers"}


@st.composite
def request_record(draw):
    status = draw(statuses)
    body_broke = status is not None and draw(st.booleans()) and draw(st.booleans())
    record = {
        "item_id": draw(st.sampled_from(["a", "b", "c", "d", None])),
        "attempt": draw(st.integers(1, 3)),
        "method": draw(st.sampled_from(["GET", "HEAD"])),
        "route": draw(st.sampled_from(["/Items/{itemId}", "/Items/{itemId}/Images/{imageType}"])),
        "status_code": status,
        "error_type": draw(error_types) if status is None or body_broke else None,
        "duration_ms": draw(st.floats(0, 5000, allow_nan=False)),
        "start_offset_ms": draw(st.floats(0, 60000, allow_nan=False)),
        "connection_reused": draw(st.sampled_from([True, False, None])),
        "server": draw(st.sampled_from(["Kestrel", "nginx/1.25.3", None])),
        "http_version": "HTTP/1.1",
        "credential_fp": draw(st.sampled_from(["1f3a9c0e", "77aa00bb", None])),
        "credential_form": "authorization",
        "conn_close": draw(st.sampled_from([True, None])),
        "body_bytes": draw(st.integers(0, 5 << 20)),
        "body_ms": draw(st.floats(0.1, 10000, allow_nan=False)),
    }
    if body_broke:
        record["error_phase"] = "body"
    if status is not None and status >= 400:
        record["error_body"] = draw(st.sampled_from(["", "Unauthorized", "<title>502 Bad Gateway</title>"]))
    return record


item_record = st.builds(lambda item_id, ok: {"item_id": item_id, "outcome": "succeeded" if ok else "failed"},
                        st.sampled_from(["a", "b", "c", "d"]), st.booleans())
lives = st.fixed_dictionaries({
    "ended": st.booleans(),
    "items_declared": st.one_of(st.none(), st.integers(0, 20)),
    "items_started": st.one_of(st.none(), st.integers(0, 20)),
    "error": st.one_of(st.none(), st.just({"type": "ValueError", "message": "boom"})),
    "requests_outside_jobs": st.integers(0, 3),
}).map(lambda life: {**life, "complete": life["ended"] and life["error"] is None})


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(request_record(), max_size=60), st.lists(item_record, max_size=10), lives)
def test_summary_counts_add_up(requests, items, life) -> None:
    summary = summarize("prop", requests, items, duration_seconds=1.0, life=life)
    assert summary["total_requests"] == len(requests)
    assert sum(summary["status_code_breakdown"].values()) == len(requests)
    assert (summary["successful_requests"] + summary["failed_requests"] + summary["other_requests"]
            == summary["total_requests"])
    assert (summary["items_succeeded"] + summary["items_failed"] + summary["items_unfinished"]
            + summary["items_not_started"] == summary["items_total"])
    assert summary["items_succeeded"] + summary["items_failed"] == len(items)
    assert summary["items_total"] >= max(len(items), life["items_declared"] or 0)
    failed = sum(1 for r in requests if is_failed(r))
    assert sum(p["count"] for p in summary["failure_patterns"]) == failed == summary["failed_requests"]
    if summary["successful_requests"] + failed:
        assert 0.0 <= summary["success_rate_percent"] <= 100.0
    if not failed and summary["successful_requests"]:
        assert summary["success_rate_percent"] == 100.0  # redirect hops never lower it


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(request_record(), max_size=40), st.lists(item_record, max_size=8), lives)
def test_findings_are_well_formed_and_never_claim_a_clean_job_wrongly(requests, items, life) -> None:
    for pattern in failure_patterns(requests, items):
        assert pattern["count"] >= 1
        assert len(pattern["example_item_ids"]) <= 5
        assert pattern["recovered_items"] <= pattern["items_affected"]
    findings, advice = diagnose(requests, items, life=life)
    json.dumps(findings)  # JSON-ready
    assert advice and len(advice) == len(set(advice))
    assert all(isinstance(line, str) and line for line in advice)
    for finding in findings:
        assert finding["id"] in FINDING_IDS
        assert finding["confidence"] in ("high", "medium", "low")
        assert finding["cause"] and finding["action"]
        assert COMMON_EVIDENCE <= set(finding["evidence"])
        assert len(finding["evidence"]["example_item_ids"]) <= 5
    clean = advice[0].startswith("No problems found")
    anything_wrong = (any(is_failed(r) for r in requests) or any(i["outcome"] != "succeeded" for i in items)
                      or not life["complete"] or (life["items_declared"] or 0) > max(len(items),
                                                                                       life["items_started"] or 0))
    if anything_wrong:
        assert not clean, (advice, life)
    if clean:
        assert findings == [] and len(advice) == 1


@settings(max_examples=300, deadline=None, derandomize=True)
@given(request_record())
def test_outcome_agrees_with_failed_and_succeeded(record) -> None:
    from batch_debug.collector.attempts import outcome, succeeded

    expected = "failed" if is_failed(record) else "ok" if succeeded(record) else "other"
    assert outcome(record) == expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(request_record(), max_size=60), st.lists(item_record, max_size=10), lives)
def test_the_spools_slim_records_summarize_exactly_like_the_records(requests, items, life) -> None:
    # The writer builds the head from SlimRecords (read by columns, where it can); the same values as
    # dicts are read one record at a time. (A SlimRecord keeps an error body's gist, so the dicts hold
    # what it holds.)
    from batch_debug.collector import attempts, document
    from batch_debug.collector.spool import SLIM_FIELDS, SlimRecord

    slim = [SlimRecord.of(r) for r in requests]
    requests = [{k: v for k, v in zip(SLIM_FIELDS, r) if v is not None} for r in slim]
    for key in ("status_code", "item_id", "start_offset_ms", "error_phase", "server", "not_a_field"):
        assert attempts.column(slim, key) == [r.get(key) for r in requests]
    assert list(attempts.outcomes(slim)) == [attempts.outcome(r) for r in requests]
    assert list(attempts.status_keys(slim)) == [attempts.status_key(r) for r in requests]

    def everything(records):
        return json.dumps([summarize("j", records, items, duration_seconds=60.0, life=life),
                           {str(k): v for k, v in document.item_finals(records).items()}], sort_keys=True)

    assert everything(slim) == everything(requests)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 50), st.floats(0, 50, allow_nan=False)),
                          st.one_of(st.none(), st.integers(-5, 30), st.floats(-5, 30, allow_nan=False))),
                max_size=40))
def test_peak_concurrency_is_the_most_attempts_in_flight_at_once(spans) -> None:
    from batch_debug.collector.diagnosis.view import JobView

    records = [{"start_offset_ms": start, "duration_ms": duration, "status_code": 200} for start, duration in spans]
    # The definition, the slow way: every start and end in time order, an end first at equal times.
    edges = []
    for start, duration in spans:
        edges += [(float(start or 0.0), 1), (float(start or 0.0) + float(duration or 0.0), -1)]
    peak = current = 0
    for _, step in sorted(edges):
        current += step
        peak = max(peak, current)
    assert JobView(records, []).peak_concurrency == peak


times = st.one_of(st.none(), st.integers(-3, 5), st.floats(-3, 5, allow_nan=False))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), times, statuses), max_size=40))
def test_item_finals_count_attempts_and_take_the_status_of_the_latest_start(rows) -> None:
    from batch_debug.collector import document

    records = [{"item_id": item, "start_offset_ms": start, "status_code": status} for item, start, status in rows]
    expected: dict = {}
    for item, start, status in rows:  # the definition: the latest start wins; of equal starts, the later record
        if item is None:
            continue
        found = expected.setdefault(item, {"attempts": 0, "final_status": None, "start": None})
        found["attempts"] += 1
        if found["start"] is None or (start or 0.0) >= found["start"]:
            found["start"], found["final_status"] = start or 0.0, status
    assert document.item_finals(records) == {k: {"attempts": v["attempts"], "final_status": v["final_status"]}
                                             for k, v in expected.items()}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(times, max_size=40))
def test_by_start_is_a_stable_sort_on_the_start(starts) -> None:
    from batch_debug.collector.attempts import by_start

    records = [{"start_offset_ms": start, "n": n} for n, start in enumerate(starts)]
    assert by_start(records) == sorted(records, key=lambda r: r.get("start_offset_ms") or 0.0)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.one_of(times, st.booleans(), st.text(max_size=2)), max_size=30), st.booleans())
def test_numbers_keeps_the_numbers_in_order(values, bools) -> None:
    from batch_debug.collector.attempts import numbers

    expected = [float(v) for v in values if isinstance(v, (int, float)) and (bools or not isinstance(v, bool))]
    assert numbers(values, bools=bools) == expected


def test_records_read_each_column_once_and_answer_like_a_list() -> None:
    from batch_debug.collector.attempts import Records, by_start, column

    reads: list[str] = []

    class Counted(dict):
        def get(self, key, default=None):
            reads.append(key)
            return super().get(key, default)

    plain = [{"start_offset_ms": s, "status_code": c} for s, c in ((1.0, 200), (0.5, 404), (2.0, None))]
    records = by_start(Counted(r) for r in plain)
    assert isinstance(records, Records) and [r["start_offset_ms"] for r in records] == [0.5, 1.0, 2.0]
    reads.clear()
    assert column(records, "status_code") == [404, 200, None] == column(records, "status_code")
    assert reads == ["status_code"] * 3  # one read per record, the second answer kept
    assert by_start(records) is records  # in order already: the same Records, with what it keeps


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, -0.0, 1.5, 2.0])),
                min_size=1, max_size=60), st.integers(1, 9), st.data())
def test_a_rank_read_from_sorted_runs_is_the_rank_of_the_whole(values, run, data) -> None:
    runs = [array("d", sorted(values[start:start + run])) for start in range(0, len(values), run)]
    n = data.draw(st.integers(0, len(values) - 1))
    assert nth_smallest(runs, n) == sorted(values)[n]
    assert [x for r in sorted_runs(values) for x in r] == sorted(values)  # one run: fewer than 65,536


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.floats(0, 5000, allow_nan=False), min_size=1, max_size=40))
def test_percentiles_of_a_column_in_place_are_those_of_its_sorted_list(durations) -> None:
    values = sorted(durations)

    def pick(p: float) -> float:  # numpy's default interpolation, on the sorted list
        rank = p / 100.0 * (len(values) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        return values[low] + (values[high] - values[low]) * (rank - low)

    want = [pick(50), pick(90), pick(95), pick(99), values[-1], math.fsum(values) / len(values)]
    got = analysis.latency_percentiles(ColumnsAsRecords({"duration_ms": array("d", durations)}))
    assert got == dict(zip(("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"), (round(v, 2) for v in want)))
    assert analysis.latency_percentiles([{"duration_ms": d} for d in durations]) == got


class ColumnsAsRecords(list):
    """Records that answer ``attempts.column`` from columns (as the spool's do): an array read in place."""

    def __init__(self, columns: dict) -> None:
        super().__init__({} for _ in next(iter(columns.values())))
        self.columns = columns

    def column_of(self, key: str):
        return self.columns[key]
