"""Order statistics of a job's times without a sorted list of them.

A million-request job's times are an 8-byte ``array`` a column; ``sorted()``
of one made a million float objects (32 bytes each) and a list to hold them.
:func:`sorted_runs` sorts ``RUN`` values at a time into arrays (8 bytes a
value in all, one run's floats alive at once); :func:`nth_smallest` reads any
rank from those runs by binary search, as ``sorted(values)[n]`` would.

Usage::

    runs = sorted_runs(durations)            # any sequence of floats
    median = nth_smallest(runs, (len(durations) - 1) // 2)
    median = Ranks(durations).nth((len(durations) - 1) // 2)   # the same, a MicrosColumn too
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

from .time_columns import MicrosColumn

#: Values sorted at a time (the float objects alive at once while sorting).
RUN = 1 << 16


def sorted_runs(values: Sequence[Any], typecode: str = "d") -> list[array[Any]]:
    """``values`` as sorted arrays (of ``typecode``) of at most :data:`RUN` each."""
    return [array(typecode, sorted(values[start:start + RUN])) for start in range(0, len(values), RUN)]


class Ranks:
    """Order statistics of a column of floats: ``Ranks(values).nth(n) == sorted(values)[n]``.

    A :class:`~.time_columns.MicrosColumn` is ranked by its whole microseconds
    (4 bytes a value where a float took 8: 4 MB less of a million-request head's
    peak); their order is the floats' order, and the rank's float is made from it.
    """

    def __init__(self, values: Sequence[float]) -> None:
        self.micros = isinstance(values, MicrosColumn)
        self.runs = sorted_runs(values.micros, values.micros.typecode) if isinstance(values, MicrosColumn) \
            else sorted_runs(values)

    def nth(self, n: int) -> float:
        """The value of 0-based rank ``n``; ``IndexError`` when there is none."""
        found = nth_smallest(self.runs, n)
        return found / 1000.0 if self.micros else found


def nth_smallest(runs: Sequence[Sequence[Any]], n: int) -> Any:
    """The value of 0-based rank ``n`` among the values of the sorted ``runs`` (``sorted(all)[n]``): a
    binary search in each run in turn, each candidate's rank counted across all runs by binary search.
    Raises ``IndexError`` when there is no such rank."""
    for run in runs:
        low, high = 0, len(run)
        while low < high:
            middle = (low + high) // 2
            value = run[middle]
            if sum(bisect_right(other, value) for other in runs) <= n:
                low = middle + 1  # too small: at most n values are at or below it
            elif sum(bisect_left(other, value) for other in runs) > n:
                high = middle  # too big
            else:
                return value
    raise IndexError(n)
