"""Times kept as whole microseconds read back as the very floats they were; anything else is kept aside."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from batch_debug.collector import ranks
from batch_debug.collector.attempts import start_order
from batch_debug.collector.time_columns import Micros, MicrosColumn, floats_in_place

# A record's times (three decimals), and what another instrumentation or a hostile span may send instead.
record_times = st.integers(-10**9, 10**10).map(lambda us: round(us / 1000.0, 3))
odd_times = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.just(-0.0), st.just(0.0),
                      st.integers(-5, 5), st.just(True), st.just(0.1 + 0.2), st.just(2.0**31 / 1000.0),
                      st.just(1e15), st.just(-(2.0**31) / 1000.0), st.just(65.535), st.just(65.534),
                      st.just(-0.001), st.sampled_from([0.25, 1.5, 12.125]))


def _typed(values):
    """Values with their types and signs, NaN as text (NaN != NaN): 0 and 0.0 and -0.0 told apart."""
    return [(type(v).__name__, math.copysign(1, v) if isinstance(v, float) else None,
             "nan" if isinstance(v, float) and v != v else v) for v in values]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.one_of(record_times, odd_times), max_size=12), max_size=8), st.data())
def test_every_value_reads_back_as_it_was_given(batches, data) -> None:
    column, values = Micros(), []
    for batch in batches:
        column.extend(batch, len(values))
        values += batch
    start = data.draw(st.integers(0, len(values)))
    stop = data.draw(st.integers(start, len(values)))
    assert _typed(column.column(start, stop)) == _typed(values[start:stop])
    assert _typed(column.at(row) for row in range(len(values))) == _typed(values)


def test_a_jobs_times_take_four_bytes_a_request_and_read_in_place() -> None:
    column = Micros()
    times = [round(0.137 * n, 3) for n in range(10_000)]
    for first in range(0, len(times), 64):
        column.extend(times[first:first + 64], first)
    read = column.column(0, len(times))
    assert isinstance(read, MicrosColumn) and floats_in_place(read)
    assert read.micros.itemsize == 4 and column.absent == 0
    assert list(read) == times and read[-1] == times[-1] and list(read[10:20]) == times[10:20]
    assert sum(read) == sum(times)


def test_a_start_past_35_minutes_widens_the_column_and_keeps_every_value() -> None:
    column = Micros()
    column.extend([1.5, None, 2.25], 0)
    column.extend([2_400_000.125, 3.0], 3)  # 40 minutes after the job began
    assert column.values.itemsize == 8
    assert column.column(0, 5) == [1.5, None, 2.25, 2_400_000.125, 3.0]
    column = Micros()
    column.extend([2_400_000.125, -2_400_000.5], 0)
    assert isinstance(column.column(0, 2), MicrosColumn) and list(column.column(0, 2)) == [2_400_000.125, -2_400_000.5]


def test_records_out_of_start_order_are_put_in_order_from_a_time_column() -> None:
    class Rows(list):
        def column_of(self, key):
            return MicrosColumn(column.values) if key == "start_offset_ms" else [None] * len(self)

    column = Micros()
    column.extend([5.0, 1.25, 3.5, 1.25], 0)
    assert start_order(Rows([{}] * 4)) == [1, 3, 2, 0]


def test_a_batch_of_record_times_is_appended_at_once_as_a_list_or_a_tuple(monkeypatch) -> None:
    # The writer hands each column of a batch over as a tuple (``zip(*rows)``); one value at a time
    # would cost a request about 2 us more.
    column = Micros()
    monkeypatch.setattr(Micros, "append", lambda *_: (_ for _ in ()).throw(AssertionError("one at a time")))
    column.extend((0.25, 1.5, 0.0, 2_000.125), 0)
    column.extend([3.0, 0.001], 4)
    assert list(column.column(0, 6)) == [0.25, 1.5, 0.0, 2_000.125, 3.0, 0.001]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(record_times, min_size=1, max_size=80), st.integers(1, 9), st.data())
def test_a_time_columns_ranks_are_read_from_its_microseconds_as_the_floats_ranks(times, run, data) -> None:
    column = Micros()
    column.extend(times, 0)
    read = column.column(0, len(times))
    n = data.draw(st.integers(0, len(times) - 1))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranks, "RUN", run)  # many runs, as a big job's
        ranked = ranks.Ranks(read)
    assert ranked.runs[0].typecode == read.micros.typecode  # 4 bytes a value, not a float's 8
    found = ranked.nth(n)
    assert type(found) is float and found == sorted(times)[n]


def test_fast_times_take_two_bytes_until_one_is_slower_or_negative() -> None:
    for slow in (65.535, 70.0, -0.5):
        column = Micros()
        fast = [round(0.001 * n, 3) for n in range(0, 65_535, 7)]  # 0 to 65.534 ms
        column.extend(fast, 0)
        assert column.values.itemsize == 2 and isinstance(column.column(0, len(fast)), MicrosColumn)
        column.extend([slow, 1.5], len(fast))
        assert column.values.itemsize == 4  # widened once, for every row
        assert list(column.column(0, len(fast) + 2)) == [*fast, slow, 1.5]
