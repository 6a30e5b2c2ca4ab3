"""One column of a job's request fields, by kind: how ``request_columns`` keeps each.

- :class:`Coded`: few distinct values (status, route, server, item id): a one-
  to four-byte code a row into the distinct values (its :class:`CodeBook`,
  which columns of the same values share), each kept once; read as a
  :class:`CodedColumn`;
- :class:`Numbers`: numbers in an ``array`` (8 bytes a value), a missing one
  as a stand-in (NaN, the lowest int), a value of another type kept aside (a :class:`Rare`);
- :class:`Rare`: what few rows have: those rows and their values;
- :class:`Sparse`: numbers few rows have, until many have: a :class:`Rare`, then a dense column
  (:class:`Numbers`, or ``time_columns.Micros``).

Each appends a batch at once (``extend(values, first_row)``: the usual batch
in one call at C speed), reads rows ``start`` to ``stop`` (``column``) and one
row (``at``).
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, overload

from .code_book import CodeBook

NAN = float("nan")
_NONE = type(None)
NO_INT = -(1 << 63)
NO_INT32 = -(1 << 31)
WIDE = "I" if array("I").itemsize >= 4 else "L"


def narrowest(distinct: int) -> str:
    """The array typecode of codes into ``distinct`` values: one, two or four bytes a code."""
    return "B" if distinct <= 256 else "H" if distinct <= 65536 else WIDE



class Coded:
    """One column of few distinct values: a code per row into its :class:`CodeBook` (its own unless given one)."""

    __slots__ = ("codes", "book")

    def __init__(self, book: CodeBook | None = None) -> None:
        self.codes = array("B")
        self.book = CodeBook() if book is None else book

    @property
    def values(self) -> Sequence[Any]:
        return self.book.values

    def _fit(self) -> None:
        # Codes as narrow as the book allows; the book may have grown through another column.
        typecode = narrowest(len(self.book.values))
        if array(typecode).itemsize > self.codes.itemsize:
            self.codes = array(typecode, self.codes)

    def append(self, value: Any) -> None:
        code = self.book.code(value)
        self._fit()
        self.codes.append(code)

    def extend(self, values: Sequence[Any], first: int) -> None:
        codes = self.codes_of(self.book, values)
        self._fit()
        self.codes.extend(codes)

    @staticmethod
    def codes_of(book: CodeBook, values: Sequence[Any]) -> list[int]:
        """The code of each value in ``book``, new ones given one."""
        codes: list[Any] = list(map(book.index.get, values))
        if None not in codes and not book.mixed and set(map(type, values)) <= book.kinds:
            return codes  # every value seen before, none of a type equal values of another have
        return list(map(book.code, values))

    def column(self, start: int, stop: int) -> Sequence[Any]:
        return CodedColumn(self.codes if start == 0 and stop == len(self.codes) else self.codes[start:stop], self.values)

    def at(self, row: int) -> Any:
        return self.book.values[self.codes[row]]


class CodedColumn(Sequence[Any]):
    """A coded column read as the sequence of its values: a one- to four-byte code a row, where a list
    would hold an 8-byte reference a row. Iterating runs at C speed; ``in`` looks at the values used."""

    __slots__ = ("codes", "values")

    def __init__(self, codes: array[int], values: Sequence[Any]) -> None:
        self.codes = codes
        self.values = values

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(map(self.values.__getitem__, self.codes[index]))
        return self.values[self.codes[index]]

    def __iter__(self) -> Iterator[Any]:
        return map(self.values.__getitem__, self.codes)

    def __contains__(self, value: object) -> bool:
        return value in [self.values[code] for code in set(self.codes)]

    def count(self, value: Any) -> int:
        """How many rows hold ``value`` (``is`` or ``==``, as a list counts), at C speed."""
        return sum(self.codes.count(code) for code, known in enumerate(self.values)
                   if known is value or known == value)


class Numbers:
    """One column of numbers in an array: ``missing`` stands for None, other types are kept aside."""

    __slots__ = ("values", "kind", "missing", "aside", "absent")

    def __init__(self, typecode: str, missing: Any, kind: type) -> None:
        self.values: array[Any] = array(typecode)
        self.kind = kind
        self.missing = missing
        self.aside = Rare()  # the values of another type, by row
        self.absent = 0  # rows without a value (or with one kept aside)

    def append(self, value: Any, row: int) -> None:
        if value.__class__ is self.kind and value != self.missing and value == value:  # not NaN
            try:
                self.values.append(value)
                return
            except OverflowError:
                pass  # an int past 64 bits: aside
        self.values.append(self.missing)
        self.absent += 1
        if value is not None:
            self.aside.append(value, row)

    def extend(self, values: Sequence[Any], first: int) -> None:
        kinds = set(map(type, values))
        if kinds <= {self.kind, _NONE}:
            plain = values
            if _NONE in kinds:
                missing = self.missing
                plain = [missing if value is None else value for value in values]
            # No NaN (NaN != NaN; None == None), none the stand-in for a missing value.
            if all(map(operator.eq, values, values)) if self.kind is float else self.missing not in values:
                try:
                    self.values.extend(array(self.values.typecode, plain))  # made whole first: no half batch
                except OverflowError:
                    pass  # an int past 64 bits: one at a time, aside
                else:
                    self.absent += values.count(None)
                    return
        for row, value in enumerate(values, first):
            self.append(value, row)

    def column(self, start: int, stop: int) -> Sequence[Any]:
        if not self.absent:
            # An array, not a list of number objects: 8 bytes a value where the list took 32 (a head keeps
            # each column it reads until it is written). It reads like the list in every other way. All
            # rows: the column's own array, no copy (the reading starts when the appending has ended).
            return self.values if start == 0 and stop == len(self.values) else self.values[start:stop]
        found: list[Any] = self.values[start:stop].tolist()
        if self.kind is float:
            found = [None if value != value else value for value in found]
        else:
            missing = self.missing
            found = [None if value == missing else value for value in found]
        return self.aside.overlay(found, start)

    def at(self, row: int) -> Any:
        aside = self.aside.at(row)
        if aside is not None:
            return aside
        value = self.values[row]
        return None if value != value or value == self.missing else value


class Rare:
    """One column most rows have no value in: the rows that have one (in order, as they are appended)
    and their values, 16 bytes a value. A range of rows is found by binary search, not by a look at
    every value (a job whose every request failed has an error body for each)."""

    __slots__ = ("rows", "values")

    def __init__(self) -> None:
        self.rows: array[int] = array("q")
        self.values: list[Any] = []

    def append(self, value: Any, row: int) -> None:
        if value is not None:
            self.rows.append(row)
            self.values.append(value)

    def extend(self, values: Sequence[Any], first: int) -> None:
        if values.count(None) != len(values):
            for row, value in enumerate(values, first):
                self.append(value, row)

    def between(self, start: int, stop: int) -> Iterator[tuple[int, Any]]:
        """(row, value) of the rows from ``start`` to ``stop`` that have one."""
        low, high = bisect_left(self.rows, start), bisect_left(self.rows, stop)
        return zip(self.rows[low:high], self.values[low:high])

    def column(self, start: int, stop: int) -> Sequence[Any]:
        return self.overlay([None] * (stop - start), start)

    def overlay(self, found: list[Any], start: int) -> list[Any]:
        """``found`` (rows ``start`` on) with the values of the rows that have one put in their place."""
        for row, value in self.between(start, start + len(found)):
            found[row - start] = value
        return found

    def at(self, row: int) -> Any:
        index = bisect_left(self.rows, row)
        return self.values[index] if index < len(self.rows) and self.rows[index] == row else None


class Dense(Protocol):
    """What :class:`Sparse` turns into: a column every row has a place in."""

    def extend(self, values: Sequence[Any], first: int) -> None: ...
    def column(self, start: int, stop: int) -> Sequence[Any]: ...
    def at(self, row: int) -> Any: ...


class Sparse:
    """A column of numbers most rows lack (a new connection's time: a job that reuses its connections has
    a handful): a :class:`Rare` until a quarter of its rows (past the first 64) have one, then
    :class:`Numbers` made by ``dense``, 8 bytes a row. Read the same either way."""

    __slots__ = ("kept", "dense", "size")

    def __init__(self, dense: Callable[[], Dense]) -> None:
        self.kept: Rare | Dense = Rare()
        self.dense = dense
        self.size = 0

    def extend(self, values: Sequence[Any], first: int) -> None:
        self.kept.extend(values, first)
        self.size = first + len(values)
        if isinstance(self.kept, Rare) and self.size >= 64 and len(self.kept.rows) * 4 > self.size:
            dense = self.dense()
            dense.extend(self.kept.column(0, self.size), 0)
            self.kept = dense

    def column(self, start: int, stop: int) -> Sequence[Any]:
        return self.kept.column(start, stop)

    def at(self, row: int) -> Any:
        return self.kept.at(row)


Column = Coded | Numbers | Rare | Sparse
