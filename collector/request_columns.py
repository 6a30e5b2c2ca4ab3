"""A job's request records kept by column while it runs, and read back without building them all.

The spool keeps the fields the analysis reads (``spool.SLIM_FIELDS``) of every
request of an open job until its head is built. As a tuple a request, with
the values parsed along with it, that was about 540 bytes: 540 MB held by the
worker's process through a million-request job. :class:`RequestColumns`
keeps them by column instead, about 80 bytes a request:

- times (``duration_ms`` and the phases) as 8-byte floats in an ``array``; a
  missing one is NaN (a record's numbers are finite: ``records.check_record``),
  a value of another type (an int from another instrumentation) is kept aside
  by row;
- ``body_bytes`` as an 8-byte int, missing as the lowest value, likewise;
- text and flags with few distinct values (status, route, server, attempt,
  and the item id: a few requests an item) as a one- to four-byte code into
  the column's distinct values, each kept once;
- what few requests have (an error body's gist, the URL of a request that
  names no item) in a dict by row.

:class:`ColumnRecords` reads them back: a read-only sequence of records (all
of them, or some in a given order) that answers ``attempts.column`` from the
columns and builds a record (a ``SlimRecord``) only when one is read. A record
read by index is kept, so reading it again gives the same object (the
diagnosis tells a failure window's attempts apart by identity); one met while
iterating is made for the moment, unless it was kept.

Appends run on the writer thread only; the reading starts when the job ended.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from .slim_records import SLIM_FIELDS, SlimRecord

#: Numbers with a fraction: an 8-byte float each.
FLOAT_FIELDS = ("duration_ms", "start_offset_ms", "ttfb_ms", "connect_ms", "body_ms")
#: Whole numbers that may be large: an 8-byte int each.
INT_FIELDS = ("body_bytes",)
#: Fields few requests have: a dict by row.
RARE_FIELDS = ("error_body", "url")
#: The rest: few distinct values each, coded.
CODED_FIELDS = tuple(name for name in SLIM_FIELDS if name not in FLOAT_FIELDS + INT_FIELDS + RARE_FIELDS)

_NAN = float("nan")
_NONE = type(None)
_NUMBER_KINDS = frozenset({int, bool, float})
_NO_INT = -(1 << 63)
_WIDE = "I" if array("I").itemsize >= 4 else "L"
#: Rows built at once while iterating: their column slices are the only copies made.
_CHUNK = 4096


class _Coded:
    """One column of few distinct values: a code per row into ``values``."""

    __slots__ = ("codes", "values", "_index", "_typed", "_kinds", "_mixed")

    def __init__(self) -> None:
        self.codes = array("B")
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}
        self._typed: dict[tuple[type, Any], int] = {}  # values equal to another of another type (1 and True)
        self._kinds: set[type] = set()  # the types of the values
        self._mixed = False  # two number types among them: 1 may meet True

    def append(self, value: Any) -> None:
        code = self._index.get(value)
        if code is None or self.values[code].__class__ is not value.__class__:
            code = self._code(value)
        self.codes.append(code)

    def extend(self, values: Sequence[Any], first: int) -> None:
        codes: list[Any] = list(map(self._index.get, values))
        if None not in codes and not self._mixed and set(map(type, values)) <= self._kinds:
            self.codes.extend(codes)  # every value seen before, none of a type equal values of another have
            return
        get, known, append = self._index.get, self.values, self.codes.append
        for value in values:
            code = get(value)
            if code is None or known[code].__class__ is not value.__class__:
                code = self._code(value)
                append = self.codes.append  # the codes may have widened
            append(code)

    def _code(self, value: Any) -> int:
        if value in self._index:  # equal to a value of another type: keep both apart
            key = (value.__class__, value)
            code = self._typed.get(key)
            if code is not None:
                return code
            code = self._typed[key] = self._new(value)
            return code
        code = self._index[value] = self._new(value)
        return code

    def _new(self, value: Any) -> int:
        code = len(self.values)
        self.values.append(value)
        self._kinds.add(value.__class__)
        self._mixed = len(self._kinds & _NUMBER_KINDS) > 1
        if code == 256 and self.codes.typecode == "B":
            self.codes = array("H", self.codes)
        elif code == 65536 and self.codes.typecode == "H":
            self.codes = array(_WIDE, self.codes)
        return code

    def column(self, start: int, stop: int) -> Sequence[Any]:
        return CodedColumn(self.codes if start == 0 and stop == len(self.codes) else self.codes[start:stop], self.values)

    def at(self, row: int) -> Any:
        return self.values[self.codes[row]]


class CodedColumn(Sequence[Any]):
    """A coded column read as the sequence of its values: a one- to four-byte code a row, where a list
    would hold an 8-byte reference a row. Iterating runs at C speed; ``in`` looks at the values used."""

    __slots__ = ("codes", "values")

    def __init__(self, codes: array[int], values: list[Any]) -> None:
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


class _Numbers:
    """One column of numbers in an array: ``missing`` stands for None, other types are kept aside."""

    __slots__ = ("values", "kind", "missing", "aside", "absent")

    def __init__(self, typecode: str, missing: Any, kind: type) -> None:
        self.values: array[Any] = array(typecode)
        self.kind = kind
        self.missing = missing
        self.aside: dict[int, Any] = {}  # row -> a value of another type
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
            self.aside[row] = value

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
        for row, value in self.aside.items():
            if start <= row < stop:
                found[row - start] = value
        return found

    def at(self, row: int) -> Any:
        if row in self.aside:
            return self.aside[row]
        value = self.values[row]
        return None if value != value or value == self.missing else value


class _Rare:
    """One column most rows have no value in."""

    __slots__ = ("by_row",)

    def __init__(self) -> None:
        self.by_row: dict[int, Any] = {}

    def append(self, value: Any, row: int) -> None:
        if value is not None:
            self.by_row[row] = value

    def extend(self, values: Sequence[Any], first: int) -> None:
        if values.count(None) != len(values):
            for row, value in enumerate(values, first):
                self.append(value, row)

    def column(self, start: int, stop: int) -> Sequence[Any]:
        found: list[Any] = [None] * (stop - start)
        for row, value in self.by_row.items():
            if start <= row < stop:
                found[row - start] = value
        return found

    def at(self, row: int) -> Any:
        return self.by_row.get(row)


_Column = _Coded | _Numbers | _Rare


class RequestColumns:
    """The analysed fields of a job's requests, by column (see the module doc)."""

    def __init__(self) -> None:
        self.size = 0
        self._columns: dict[str, _Column] = {}
        for name in SLIM_FIELDS:
            if name in FLOAT_FIELDS:
                self._columns[name] = _Numbers("d", _NAN, float)
            elif name in INT_FIELDS:
                self._columns[name] = _Numbers("q", _NO_INT, int)
            elif name in RARE_FIELDS:
                self._columns[name] = _Rare()
            else:
                self._columns[name] = _Coded()
        self._order = [self._columns[name] for name in SLIM_FIELDS]
        #: Records read by index, by row: the same object each time.
        self._made: dict[int, SlimRecord] = {}

    def __len__(self) -> int:
        return self.size

    def extend(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Append rows as ``spool.slim_row`` makes them (values in ``SLIM_FIELDS`` order).

        A batch at a time, column by column: the usual column of a batch (numbers every row has, values
        seen before) is appended in one call at C speed.
        """
        rows = list(rows)
        if not rows:
            return
        first = self.size
        columns = list(zip(*rows))
        for column, values in zip(self._order, columns):
            column.extend(values, first)
        self.size = first + len(rows)

    def column(self, key: str, start: int = 0, stop: int | None = None) -> Sequence[Any]:
        """Each row's value of ``key`` (None where it has none) from ``start`` to ``stop``: a list, or an
        ``array`` for a column of numbers that every row has."""
        stop = self.size if stop is None else stop
        column = self._columns.get(key)
        return [None] * (stop - start) if column is None else column.column(start, stop)

    def record(self, row: int) -> SlimRecord:
        """Row ``row`` as a record, the same object each time it is asked for."""
        found = self._made.get(row)
        if found is None:
            if not 0 <= row < self.size:
                raise IndexError(row)
            found = self._made[row] = self._build(row)
        return found

    def records(self, rows: Sequence[int] | None = None) -> Iterator[SlimRecord]:
        """The records of ``rows`` (all, in order, when None), a chunk of rows built at a time."""
        made = self._made
        if rows is None:
            for start in range(0, self.size, _CHUNK):
                stop = min(start + _CHUNK, self.size)
                fresh = map(SlimRecord, zip(*(c.column(start, stop) for c in self._order)))
                if not made:
                    yield from fresh
                else:
                    for row, record in enumerate(fresh, start):
                        yield made.get(row, record)
            return
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            low, high = min(chunk), max(chunk) + 1
            if high - low > 4 * len(chunk):  # scattered rows: one at a time
                yield from (made[row] if row in made else self._build(row) for row in chunk)
                continue
            # Rows close together (a subset in start order, as a job's usually are): slices of the columns.
            columns = [c.column(low, high) for c in self._order]
            for row in chunk:
                yield made[row] if row in made else SlimRecord([c[row - low] for c in columns])

    def _build(self, row: int) -> SlimRecord:
        return SlimRecord([column.at(row) for column in self._order])

    def view(self) -> ColumnRecords:
        """All rows, in the order they were appended."""
        return ColumnRecords(self, None)


class ColumnRecords(Sequence[SlimRecord]):
    """Some rows of a :class:`RequestColumns` (all when ``rows`` is None), read as records."""

    def __init__(self, table: RequestColumns, rows: Sequence[int] | None) -> None:
        self.table = table
        self.rows = rows
        #: Columns read so far, as ``attempts.Records`` keeps them: never change one.
        self.columns: dict[str, Sequence[Any]] = {}

    def __len__(self) -> int:
        return self.table.size if self.rows is None else len(self.rows)

    @overload
    def __getitem__(self, index: int) -> SlimRecord: ...
    @overload
    def __getitem__(self, index: slice) -> ColumnRecords: ...
    def __getitem__(self, index: int | slice) -> SlimRecord | ColumnRecords:
        if isinstance(index, slice):
            return ColumnRecords(self.table, self._rows()[index])
        return self.table.record(self._rows()[index])

    def __iter__(self) -> Iterator[SlimRecord]:
        return self.table.records(self.rows)

    def _rows(self) -> Sequence[int]:
        return range(self.table.size) if self.rows is None else self.rows

    def column_of(self, key: str) -> Sequence[Any]:
        """Each record's value of ``key``, in order, as :meth:`RequestColumns.column` gives it (kept: never
        change it)."""
        found = self.columns.get(key)
        if found is None:
            whole = self.table.column(key)
            if self.rows is None:
                found = whole
            elif isinstance(whole, array):
                found = array(whole.typecode, map(whole.__getitem__, self.rows))
            elif isinstance(whole, CodedColumn):
                found = CodedColumn(array(whole.codes.typecode, map(whole.codes.__getitem__, self.rows)), whole.values)
            else:
                found = list(map(whole.__getitem__, self.rows))
            self.columns[key] = found
        return found

    def take(self, indexes: Iterable[int]) -> ColumnRecords:
        """The records at ``indexes`` (positions in this sequence), in that order."""
        rows = self._rows()
        return ColumnRecords(self.table, array(_WIDE, map(rows.__getitem__, indexes)))
