"""A column kept as runs reads exactly as the coded column of the same values, before and after it turns dense."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from batch_debug.collector import coded_runs
from batch_debug.collector.coded_runs import Runs, RunsColumn
from batch_debug.collector.column_kinds import Coded

# Values a few-valued field may hold, 1 and True among them (equal, of different types: kept apart).
VALUES = ["Kestrel", "nginx", None, 200, 404, 1, True, False, 0, ""]


def _typed(values):
    return [(type(v).__name__, v) for v in values]


@st.composite
def runs_of_values(draw):
    """Values in runs of random lengths (a job's fields), handed over in batches of random sizes."""
    values = []
    for _ in range(draw(st.integers(0, 12))):
        values += [draw(st.sampled_from(VALUES))] * draw(st.integers(1, 40))
    cuts = sorted(draw(st.lists(st.integers(0, len(values)), max_size=8)))
    return values, [values[a:b] for a, b in zip([0, *cuts], [*cuts, len(values)])]


def _both(batches):
    runs, coded = Runs(), Coded()
    first = 0
    for batch in batches:
        runs.extend(batch, first)
        coded.extend(batch, first)
        first += len(batch)
    return runs, coded


@settings(max_examples=150, deadline=None, derandomize=True)
@given(runs_of_values(), st.booleans(), st.data())
def test_runs_read_as_the_coded_column_of_the_same_values(given_values, dense_early, data) -> None:
    values, batches = given_values
    with pytest.MonkeyPatch.context() as patch:
        if dense_early:  # turn dense after a few rows: both ways of keeping them are read here
            patch.setattr(coded_runs, "DENSE_AFTER", 4)
            patch.setattr(coded_runs, "ROWS_PER_RUN", 2)
        runs, coded = _both(batches)
    assert runs.size == len(values)
    start = data.draw(st.integers(0, len(values)))
    stop = data.draw(st.integers(start, len(values)))
    got, want = runs.column(start, stop), coded.column(start, stop)
    assert _typed(got) == _typed(want) == _typed(values[start:stop])
    assert len(got) == stop - start
    assert list(got.codes) == list(want.codes) and got.codes.typecode == want.codes.typecode
    for value in VALUES + ["absent"]:
        assert got.count(value) == list(want).count(value)
        assert (value in got) == (value in list(want))
    assert _typed(got[1:-1:2]) == _typed(values[start:stop][1:-1:2])
    assert _typed(got[i] for i in range(-len(got), len(got))) == _typed(values[start:stop] * 2)
    assert _typed(runs.at(row) for row in range(len(values))) == _typed(values)
    with pytest.raises(IndexError):
        got[len(got)]
    with pytest.raises(IndexError):
        runs.at(len(values))


def test_a_column_of_long_runs_stays_a_few_runs_and_one_that_changes_often_turns_dense() -> None:
    steady, changing = Runs(), Runs()
    rng = random.Random(7)
    for batch in range(500):  # 32,000 rows in batches of 64
        first = batch * 64
        steady.extend(["Kestrel"] * 40 + ["nginx"] * 24 if batch == 250 else ["Kestrel"] * 64, first)
        changing.extend([rng.choice([200, 404]) for _ in range(64)], first)
    assert steady.dense is None and len(steady.ends) == 3  # Kestrel, nginx, Kestrel again: 24 bytes for 32,000 rows
    assert isinstance(steady.column(0, steady.size), RunsColumn)
    assert steady.column(0, steady.size).count("nginx") == 24
    assert changing.dense is not None and len(changing.ends) == 0  # a byte a row, as a Coded
    assert len(changing.dense.codes) == 32_000
    assert changing.column(0, 32_000).count(200) + changing.column(0, 32_000).count(404) == 32_000
