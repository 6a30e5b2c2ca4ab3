"""A coded column kept as runs of one value while its values come in long runs (``request_columns``).

Usage::

    column = Runs()                        # as column_kinds.Coded: extend(values, first), column, at
    column.extend(["Kestrel"] * 500, 0)
    column.column(0, 500)                  # a RunsColumn: reads like a CodedColumn

Most of a request's few-valued fields hold one value for long stretches of
a job (the route, the server, the HTTP version, the credential, a missing
error type or Retry-After), and :class:`~.column_kinds.Coded` spent a byte a
request on each even so: 14 MB of a million-request job's memory. Here a
column is a list of runs (a code and the row after its last, 8 bytes a run)
for as long as that is smaller: past :data:`DENSE_AFTER` rows, a column with
more than one run per :data:`ROWS_PER_RUN` rows (a status that changes every
few requests) becomes a ``Coded`` of the same values and codes, and stays one.

:class:`RunsColumn` reads rows ``start`` to ``stop`` without expanding them:
iterating repeats each run's value at C speed, ``count`` and ``in`` look at
the runs. Its ``codes`` (one code a row, as a ``CodedColumn``'s) is made when
asked, for a reader that picks rows (``ColumnRecords.column_of``).
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain, groupby, repeat
from typing import Any, overload

from .code_book import CodeBook
from .column_kinds import WIDE, Coded, CodedColumn, narrowest

#: Rows a column stays runs for, whatever its runs (a job's first batches say little about it).
DENSE_AFTER = 1024
#: A column of runs with more runs than one per this many rows becomes a ``Coded`` (a byte a row).
ROWS_PER_RUN = 8


class Runs:
    """One coded column as runs of a value (see the module doc); a :class:`Coded` once dense."""

    __slots__ = ("book", "ends", "run_codes", "dense", "size")

    def __init__(self, book: CodeBook | None = None) -> None:
        self.book = CodeBook() if book is None else book
        self.ends = array(WIDE)  # the row after each run's last
        self.run_codes = array(WIDE)  # each run's code
        self.dense: Coded | None = None
        self.size = 0

    @property
    def values(self) -> Sequence[Any]:
        return self.book.values

    def extend(self, values: Sequence[Any], first: int) -> None:
        if self.dense is not None:
            self.dense.extend(values, first)
            self.size = first + len(values)
            return
        if not values:
            return
        codes = Coded.codes_of(self.book, values)
        if codes.count(codes[0]) == len(codes):  # the usual batch: one value throughout
            self._run(codes[0], first + len(codes))
        else:
            row = first
            for code, group in groupby(codes):
                row += len(list(group))
                self._run(code, row)
        self.size = first + len(codes)
        if self.size > DENSE_AFTER and len(self.ends) * ROWS_PER_RUN > self.size:
            self._densify()

    def _run(self, code: int, end: int) -> None:
        if self.run_codes and self.run_codes[-1] == code:
            self.ends[-1] = end
        else:
            self.run_codes.append(code)
            self.ends.append(end)

    def _densify(self) -> None:
        dense = Coded(self.book)
        dense.codes = expand(self.run_codes, self.ends, 0, self.size, narrowest(len(self.book.values)))
        self.dense = dense
        self.ends, self.run_codes = array(WIDE), array(WIDE)

    def column(self, start: int, stop: int) -> Sequence[Any]:
        if self.dense is not None:
            return self.dense.column(start, stop)
        low = bisect_right(self.ends, start)
        high = bisect_right(self.ends, stop - 1) + 1 if stop > start else low
        # Each run's length within [start, stop): its end (cut at stop) less the end before it (start, first).
        ends = [min(end, stop) for end in self.ends[low:high]]
        lengths = array(WIDE, map(operator.sub, ends, [start, *ends[:-1]]))
        return RunsColumn(self.run_codes[low:high], lengths, self.book.values, narrowest(len(self.book.values)))

    def at(self, row: int) -> Any:
        if self.dense is not None:
            return self.dense.at(row)
        if not 0 <= row < self.size:
            raise IndexError(row)
        return self.book.values[self.run_codes[bisect_right(self.ends, row)]]


def expand(run_codes: Sequence[int], ends: Sequence[int], start: int, stop: int, typecode: str) -> array[int]:
    """One code a row from ``start`` to ``stop`` of the runs ``run_codes`` ending at ``ends``."""
    found = array(typecode)
    row = start
    for code, end in zip(run_codes, ends):
        end = min(end, stop)
        if end > row:
            found.extend(array(typecode, [code]) * (end - row))
            row = end
    return found


class RunsColumn(CodedColumn):
    """Rows of a :class:`Runs` column read as their values (as a :class:`CodedColumn`, without a code a row)."""

    __slots__ = ("run_codes", "lengths", "ends", "typecode")

    def __init__(self, run_codes: array[int], lengths: array[int], values: Sequence[Any], typecode: str) -> None:
        self.run_codes = run_codes
        self.lengths = lengths
        self.ends = array(WIDE, accumulate(lengths))  # for a row's run by binary search
        self.values = values
        self.typecode = typecode

    @property
    def codes(self) -> array[int]:  # type: ignore[override]  # (read-only here: made from the runs)
        """One code a row (made when asked)."""
        return expand(self.run_codes, self.ends, 0, len(self), self.typecode)

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return CodedColumn.__getitem__(self, index)  # from the codes, made when asked
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("index out of range")
        return self.values[self.run_codes[bisect_right(self.ends, index)]]

    def __iter__(self) -> Iterator[Any]:
        return chain.from_iterable(map(repeat, map(self.values.__getitem__, self.run_codes), self.lengths))

    def __contains__(self, value: object) -> bool:
        return value in [self.values[code] for code in set(self.run_codes)]

    def count(self, value: Any) -> int:
        """How many rows hold ``value`` (``is`` or ``==``, as a list counts)."""
        values = self.values
        return sum(length for code, length in zip(self.run_codes, self.lengths)
                   if values[code] is value or values[code] == value)
