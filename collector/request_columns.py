"""A job's request records kept by column while it runs, and read back without building them all.

The spool keeps the fields the analysis reads (``spool.SLIM_FIELDS``) of every
request of an open job until its head is built. As a tuple a request, with
the values parsed along with it, that was about 540 bytes: 540 MB held by the
worker's process through a million-request job. :class:`RequestColumns`
keeps them by column instead (``column_kinds``), about 60 bytes a request
and each distinct item id once, in a code book the job's item columns share
(``code_book``: its text and about 20 bytes an id, past the 4,096 most
recently seen):

- times (``duration_ms`` and the phases) as 8-byte floats in an ``array``; a
  missing one is NaN (a record's numbers are finite: ``records.check_record``),
  a value of another type (an int from another instrumentation) is kept aside
  by row; ``connect_ms``, which only a new connection has, by row until a
  quarter of the requests have one;
- ``body_bytes`` as a 4-byte int, missing as the lowest value, likewise
  (and a size past 2 GB);
- text and flags with few distinct values (status, route, server, attempt,
  and the item id: a few requests an item) as a one- to four-byte code into
  the column's distinct values (its ``CodeBook``), each kept once; all but
  the item id as runs of one code while their values come in long runs, as
  most do (``coded_runs``: nothing a request);
- what few requests have (an error body's gist, the URL of a request that
  names no item) as those rows and their values.

:class:`ColumnRecords` reads them back: a read-only sequence of records (all
of them, or some in a given order) that answers ``attempts.column`` from the
columns and builds a record (a ``SlimRecord``) only when one is read. A record
read by index is kept, so reading it again gives the same object (the
diagnosis tells a failure window's attempts apart by identity); one met while
iterating is made for the moment, unless it was kept.

Appends run on the writer thread only; the reading starts when the job ended.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from .code_book import CodeBook
from .coded_runs import Runs
from .column_kinds import NO_INT32, WIDE, Coded, CodedColumn, Column, Numbers, Rare, Sparse
from .slim_records import SLIM_FIELDS, SlimRecord
from .time_columns import Micros, MicrosColumn

#: Times in ms: whole microseconds, a 4-byte int each (``time_columns``).
FLOAT_FIELDS = ("duration_ms", "start_offset_ms", "ttfb_ms", "connect_ms", "body_ms")
#: Times only a new connection has: by row while few requests have one (``column_kinds.Sparse``).
SPARSE_FIELDS = ("connect_ms",)
#: Whole numbers: a 4-byte int each (a poster's size; a body of 2 GB or more is kept aside, by row).
INT_FIELDS = ("body_bytes",)
#: Fields few requests have: those rows and their values.
RARE_FIELDS = ("error_body", "url", "body_text", "error_message")
#: The rest have few distinct values each: coded (each value kept once).

#: Item ids the code book's dict holds (the most recently seen); older ones are found in its sorted runs.
#: An item's requests come close together, so a few thousand is plenty; 65,536 ids in the dict (their
#: ``str`` objects, entries and int codes, scattered through the heap among the spans let go) held
#: 16 MB more of a 300,000-request job's RSS at its end (37.4 -> 21.6 MB).
ITEM_ID_WINDOW = 1 << 12
#: Rows built at once while iterating: their column slices are the only copies made.
_CHUNK = 4096


class RequestColumns:
    """The analysed fields of a job's requests, by column (see the module doc)."""

    def __init__(self) -> None:
        self.size = 0
        self._columns: dict[str, Column | Runs | Micros] = {}
        for name in SLIM_FIELDS:
            if name in SPARSE_FIELDS:
                self._columns[name] = Sparse(Micros)
            elif name in FLOAT_FIELDS:
                self._columns[name] = Micros()
            elif name in INT_FIELDS:
                self._columns[name] = Numbers("i", NO_INT32, int)
            elif name in RARE_FIELDS:
                self._columns[name] = Rare()
            elif name == "item_id":
                # A third of a million ids in a million-request job, each seen for a few requests: the
                # book's dict holds the recent ones (``code_book``).
                self._columns[name] = Coded(CodeBook(window=ITEM_ID_WINDOW))
            else:
                # Few values, most often in long runs (a route, a server, no error): runs while they are.
                self._columns[name] = Runs()
        self._order = [self._columns[name] for name in SLIM_FIELDS]
        #: The item ids' book, for the job's item columns to share (``item_columns``).
        self.item_ids: CodeBook = self._columns["item_id"].book  # type: ignore[union-attr]
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
            columns = [list(c.column(low, high)) for c in self._order]  # lists: each read at C speed
            for row in chunk:
                yield made[row] if row in made else SlimRecord([c[row - low] for c in columns])

    def keep(self, rows: Sequence[int]) -> list[SlimRecord]:
        """The records of ``rows``, each kept as :meth:`record` keeps it, built a chunk at a time (the
        failed requests of a job that failed throughout are most of them)."""
        made = self._made
        return [made.setdefault(row, record) for row, record in zip(rows, self.records(rows))]

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
            elif isinstance(whole, MicrosColumn):
                found = whole.take(self.rows)
            elif isinstance(whole, CodedColumn):
                found = CodedColumn(array(whole.codes.typecode, map(whole.codes.__getitem__, self.rows)), whole.values)
            else:
                found = list(map(whole.__getitem__, self.rows))
            self.columns[key] = found
        return found

    def kept(self, indexes: Iterable[int]) -> list[SlimRecord]:
        """The records at ``indexes`` as a list, each the same object wherever it is read again."""
        rows = self._rows()
        return self.table.keep([rows[i] for i in indexes])

    def take(self, indexes: Iterable[int]) -> ColumnRecords:
        """The records at ``indexes`` (positions in this sequence), in that order."""
        rows = self._rows()
        return ColumnRecords(self.table, array(WIDE, map(rows.__getitem__, indexes)))
