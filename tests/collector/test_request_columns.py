"""The spool's request columns read back exactly as the rows they were given, and summarize alike."""

from __future__ import annotations

import json
import math
from functools import partial

from gc_reach import tracked_reachable
from hypothesis import given, settings, strategies as st

from batch_debug.collector import attempts, document
from batch_debug.collector.analysis import summarize
from batch_debug.collector.column_kinds import NAN, Coded, Numbers, Rare, Sparse
from batch_debug.collector.request_columns import RequestColumns
from batch_debug.collector.slim_records import SLIM_FIELDS, SlimRecord, slim_row
from batch_debug.collector.time_columns import MicrosColumn

# Values of every type a record's field may hold (records.RECORD_TYPES), and a few it may not, which the
# columns must still give back as they were: an int where a time is, a bool beside an int equal to it, an
# int past 64 bits.
times = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.integers(-5, 5), st.just(-0.0))
texts = st.one_of(st.none(), st.sampled_from(["Kestrel", "nginx", "", "HTTP/1.1", "x" * 40]))
flags = st.sampled_from([True, False, None, 1, 0])


@st.composite
def record(draw):
    found = {name: draw(texts) for name in SLIM_FIELDS}
    for name in ("duration_ms", "start_offset_ms", "ttfb_ms", "connect_ms", "body_ms"):
        found[name] = draw(times)
    found["item_id"] = draw(st.one_of(st.none(), st.sampled_from(["a", "b", "c"]), st.text(max_size=3)))
    found["attempt"] = draw(st.one_of(st.integers(1, 3), st.just(True)))
    found["status_code"] = draw(st.one_of(st.none(), st.sampled_from([200, 404, 502]), st.just(1)))
    found["connection_reused"] = draw(flags)
    found["conn_close"] = draw(flags)
    found["body_bytes"] = draw(st.one_of(st.none(), st.integers(0, 1 << 40), st.just(-(1 << 63)),
                                         st.just(-(1 << 31)), st.just((1 << 31) - 1), st.just(1 << 31),
                                         st.just(1 << 70), st.just(True)))
    found["error_body"] = draw(st.one_of(st.none(), st.just("Unauthorized"), st.just("<html>x" * 30)))
    found["url"] = draw(st.one_of(st.none(), st.just("http://h/Items/1")))
    return found


def _typed(values):
    """Values with their types, so that 1 and True, 0 and -0.0 and 0 are told apart."""
    return [(type(v).__name__, math.copysign(1, v) if isinstance(v, float) else None, v) for v in values]


def _table(records, batch=7):
    # In batches, as the writer hands them over: each batch's columns are appended at once.
    table = RequestColumns()
    rows = list(map(slim_row, records))
    for start in range(0, len(rows), batch):
        table.extend(rows[start:start + batch])
    return table


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(record(), max_size=40))
def test_columns_give_back_every_row_and_every_column_as_given(records) -> None:
    rows = [SlimRecord(slim_row(r)) for r in records]
    view = _table(records).view()
    assert len(view) == len(rows)
    assert [tuple(r) for r in view] == [tuple(r) for r in rows]
    assert [_typed(r) for r in view] == [_typed(r) for r in rows]
    for key in (*SLIM_FIELDS, "not_a_field"):
        assert _typed(attempts.column(view, key)) == _typed(attempts.column(rows, key)), key
    assert [_typed(view[i]) for i in range(len(rows))] == [_typed(r) for r in rows]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(record(), min_size=1, max_size=30), st.data())
def test_a_selection_reads_like_the_rows_it_selects(records, data) -> None:
    rows = [SlimRecord(slim_row(r)) for r in records]
    picks = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=40))
    chosen = _table(records).view().take(picks)
    assert [_typed(r) for r in chosen] == [_typed(rows[i]) for i in picks]
    for key in ("duration_ms", "status_code", "item_id", "body_bytes", "error_body"):
        assert _typed(attempts.column(chosen, key)) == _typed([rows[i].get(key) for i in picks])
    assert [tuple(r) for r in chosen[1:3]] == [tuple(rows[i]) for i in picks[1:3]]


def test_a_record_read_by_index_is_the_same_object_wherever_it_is_read_again() -> None:
    # The diagnosis tells a failure window's attempts apart by identity.
    records = [{"item_id": f"i{n}", "status_code": 502 if n % 3 else 200, "start_offset_ms": float(n)}
               for n in range(10_000)]
    view = _table(records).view()
    kept = view[7000]
    assert view[7000] is kept and view[-3000] is kept
    assert next(r for i, r in enumerate(view) if i == 7000) is kept
    assert view.take([7000, 1])[0] is kept
    assert [r for r in view.take(range(6990, 7010)) if r is kept] == [kept]
    assert view[6999] is not view[7001]
    # Kept in bulk (the failed requests), a chunk at a time: the same objects as read by index.
    failed = view.kept(range(1, 10_000, 3))
    assert failed[0] is view[1] and failed[2333] is view[7000] is kept
    assert [r for r in view if r is failed[5]] == [failed[5]]
    assert [tuple(r) for r in failed] == [tuple(view.take([i])[0]) for i in range(1, 10_000, 3)]


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.fixed_dictionaries({
    "item_id": st.sampled_from(["a", "b", "c", "d", None]),
    "attempt": st.integers(1, 3),
    "route": st.sampled_from(["/Items/{itemId}", "/Items/{itemId}/Images/{imageType}"]),
    "status_code": st.one_of(st.none(), st.sampled_from([200, 204, 302, 401, 404, 429, 500, 502, 503])),
    "error_type": st.sampled_from([None, "ConnectError", "ReadTimeout", "RemoteProtocolError"]),
    "error_phase": st.sampled_from([None, None, "body"]),
    "duration_ms": st.one_of(st.floats(0, 5000, allow_nan=False), st.integers(0, 9)),
    "start_offset_ms": st.one_of(st.none(), st.floats(0, 60000, allow_nan=False)),
    "connection_reused": st.sampled_from([True, False, None]),
    "server": st.sampled_from(["Kestrel", "nginx/1.25.3", None]),
    "ttfb_ms": st.one_of(st.none(), st.floats(0, 5000, allow_nan=False)),
    "connect_ms": st.one_of(st.none(), st.floats(0, 50, allow_nan=False)),
    "conn_close": st.sampled_from([True, None]),
    "credential_fp": st.sampled_from(["1f3a9c0e", "77aa00bb", None]),
    "error_body": st.sampled_from([None, "Unauthorized", "<title>502 Bad Gateway</title>"]),
}), max_size=60))
def test_a_summary_from_the_columns_is_the_summary_from_the_rows(records) -> None:
    rows = [SlimRecord(slim_row(r)) for r in records]
    items = [{"item_id": i, "outcome": "failed" if i in "bd" else "succeeded"} for i in "abcd"]
    life = {"ended": True, "complete": True, "items_declared": 4, "items_started": 4}

    def everything(requests):
        return json.dumps([summarize("j", requests, items, duration_seconds=60.0, life=life),
                           {str(k): v for k, v in document.item_finals(requests).items()}], sort_keys=True)

    assert everything(_table(records).view()) == everything(rows)


def test_times_every_row_has_are_read_in_place_and_missing_ones_as_none() -> None:
    table = _table([{"duration_ms": 1.5, "ttfb_ms": 2.0}, {"duration_ms": 3.0, "ttfb_ms": None},
                    {"duration_ms": 4.25}])
    durations = table.column("duration_ms")
    assert isinstance(durations, MicrosColumn) and list(durations) == [1.5, 3.0, 4.25]
    assert list(durations.micros) == [1500, 3000, 4250] and durations.micros.itemsize == 2
    assert table.column("ttfb_ms") == [2.0, None, None]
    assert table.column("body_bytes") == [None, None, None]


def test_codes_widen_as_distinct_values_grow_and_values_of_equal_worth_stay_apart() -> None:
    column = Coded()
    values = [f"item-{n}" for n in range(70_000)] + [1, True, 1.0, 0, False, "item-5"]
    for value in values:
        column.append(value)
    assert column.codes.typecode not in ("B", "H")  # past 65,536 distinct values: four bytes a code
    assert _typed(column.column(0, len(values))) == _typed(values)


def test_a_long_jobs_columns_leave_nothing_per_request_for_the_garbage_collector() -> None:
    # A tuple per request stays tracked by the collector: a million of them lengthen every full
    # collection of the host's heap. Arrays and shared values are a few objects a column.
    records = [{"item_id": f"item-{n // 3}", "status_code": 200, "duration_ms": n / 7, "start_offset_ms": n * 1.5,
                "body_bytes": 1000 + n, "server": "Kestrel", "connection_reused": n % 2 == 0}
               for n in range(30_000)]
    table = _table(records)
    assert tracked_reachable(table) < 200  # a tuple a request would be 30,000
    assert table.column("body_bytes")[29_999] == 30_999


def test_an_outage_job_with_a_body_and_odd_numbers_on_every_request_reads_back_across_chunks() -> None:
    # Every request failed with a body (an outage), and a sender gave whole numbers for times: the rare
    # values and the numbers kept aside are found by row range, chunk after chunk of 4,096 rows.
    records = [{"item_id": f"item-{n // 3}", "status_code": 502, "duration_ms": n, "start_offset_ms": n * 0.5,
                "error_body": f"<html>bad gateway {n % 5}</html>", "url": None if n % 2 else f"http://h/x?{n}"}
               for n in range(10_000)]
    rows = [SlimRecord(slim_row(r)) for r in records]
    view = _table(records, batch=32).view()
    assert [_typed(r) for r in view] == [_typed(r) for r in rows]
    picks = list(range(9_999, 0, -7))
    assert [tuple(r) for r in view.take(picks)] == [tuple(rows[i]) for i in picks]
    assert _typed(attempts.column(view, "duration_ms")) == _typed([r.get("duration_ms") for r in rows])
    assert view[4_096].get("error_body") == rows[4_096].get("error_body")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(1, 40), st.floats(0, 1)), min_size=1, max_size=12), st.randoms())
def test_a_sparse_column_reads_the_same_before_and_after_it_turns_dense(batches, rng) -> None:
    column = Sparse(partial(Numbers, "d", NAN, float))
    expected: list = []
    for size, density in batches:
        values = [rng.choice([1.5, 2, -0.0, 7.25]) if rng.random() < density else None for _ in range(size)]
        column.extend(values, len(expected))
        expected += values
    assert [(v, type(v)) for v in column.column(0, len(expected))] == [(v, type(v)) for v in expected]
    assert [column.at(row) for row in range(len(expected))] == expected
    lo, hi = len(expected) // 3, len(expected) // 2
    assert list(column.column(lo, hi)) == expected[lo:hi]
    dense = sum(v is not None for v in expected) * 4 > len(expected) >= 64
    assert isinstance(column.kept, Numbers) or not dense  # a quarter of 64 rows or more: by row no longer


def test_a_keep_alive_jobs_connect_times_take_no_array() -> None:
    table = RequestColumns()
    table.extend(slim_row({"item_id": f"i{n}", "connect_ms": 1.5 if n % 500 == 0 else None, "duration_ms": 1.0})
                 for n in range(10_000))
    kept = table._columns["connect_ms"]
    assert isinstance(kept, Sparse) and isinstance(kept.kept, Rare) and len(kept.kept.rows) == 20
    assert table.column("connect_ms")[500] == 1.5 and table.column("connect_ms").count(None) == 9_980
