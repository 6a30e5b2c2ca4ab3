"""A job's item records kept by column, and read back as the head's ``items`` a chunk at a time.

A million-request job has a third of a million items. Kept as a tuple each
they took about 250 bytes an item while the job ran, and about 360 as the
head's dicts, all made at once before the head was written. Here, as in
``request_columns``:

- :class:`ItemColumns` keeps each field by column (``column_kinds``): the item
  id as a code into the same :class:`CodeBook` as the requests' item ids (each
  id kept once for both), outcome and thread as runs of one value
  (``coded_runs``), the duration as whole microseconds (``time_columns``),
  the start as an 8-byte int, errors and attributes by row where an item has
  one. About 16 bytes an item (the start and the id's code, mostly). Rows are appended on the writer thread only
  (``item_records.ItemRecords`` brings them there).
- :class:`HeadItems` is the head's ``items``: the records in start order, each
  given its ``start_offset_ms`` and finals (``attempts``, ``final_status``),
  made (and redacted) when read, never all at once. The analysis reads it
  like a list (and a column at a time, with ``column_of``), the spool writes
  it a chunk at a time (:meth:`HeadItems.chunks`).
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterable, Iterator, Mapping, MutableSequence, Sequence
from itertools import islice
from typing import Any, overload

from .attempts import column
from .coded_runs import Runs
from .column_kinds import NO_INT, WIDE, CodeBook, Coded, CodedColumn, Column, Numbers, Rare, narrowest
from .item_records import KEYS, MISSING, item_row
from .redact import redact_tree
from .time_columns import Micros

#: Keys a record has only when its span had them; None stands for "absent" (``records.item_record``
#: never makes them None).
_OPTIONAL = frozenset({"thread", "attributes"})
_CHUNK = 4096


class ItemColumns:
    """The item records of one job, by column (see the module doc)."""

    def __init__(self, item_ids: CodeBook | None = None) -> None:
        self.size = 0
        self.columns: dict[str, Column | Micros | Runs] = {
            "item_id": Coded(item_ids),
            "outcome": Runs(),  # runs of one value while they come in runs (``coded_runs``), as most do
            "error": Rare(),
            "duration_ms": Micros(),  # whole microseconds (``time_columns``), as the requests' times
            "started_ns": Numbers("q", NO_INT, int),
            "thread": Runs(),
            "attributes": Rare(),
        }
        self._order = [self.columns[key] for key in KEYS]
        #: Rows that lacked a key every record from an item span has: the keys they lacked.
        self.absent = Rare()

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]], item_ids: CodeBook | None = None) -> ItemColumns:
        """Columns holding ``records`` (dicts as ``records.item_record`` makes them)."""
        table = cls(item_ids)
        table.extend(map(item_row, records))
        return table

    def __len__(self) -> int:
        return self.size

    def extend(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Append rows as ``item_records.item_row`` makes them."""
        rows = list(rows)
        if not rows:
            return
        first = self.size
        for row, values in enumerate(rows, first):
            if MISSING in values:
                lacked = tuple(key for key, value in zip(KEYS, values) if value is MISSING and key not in _OPTIONAL)
                self.absent.append(lacked or None, row)
        for key, kept, values in zip(KEYS, self._order, zip(*rows)):
            if MISSING in values:
                values = tuple(None if value is MISSING else value for value in values)
            kept.extend(values, first)
        self.size = first + len(rows)

    def head(self, requests: Sequence[Any], start_ns: int, secrets: Sequence[str] = ()) -> HeadItems:
        """The head's items of a job whose requests (in start order) are ``requests``."""
        return HeadItems(self, requests, start_ns, secrets)


class HeadItems(Sequence[dict[str, Any]]):
    """The head's ``items``: item records in start order, each with ``start_offset_ms`` (its start since
    ``start_ns``), ``attempts`` (its requests) and ``final_status`` (the status of its last request to
    start; None when it made none or that one got no answer), and without ``started_ns``. Each record
    is made when read (a new dict each time) and redacted (``redact.redact_tree``, of ``secrets`` too),
    as the whole head is; :meth:`column_of` gives the values as they were kept."""

    def __init__(self, table: ItemColumns, requests: Sequence[Any], start_ns: int,
                 secrets: Sequence[str] = ()) -> None:
        self.table = table
        self.start_ns = start_ns
        self.secrets = tuple(secrets)
        started = table.columns["started_ns"].column(0, table.size)
        keys = started if isinstance(started, array) else [0 if s is None else s for s in started]
        #: Rows in start order (None: in that order already, as a job's items usually end); stable.
        self.order: array[int] | None = None
        if not all(map(operator.le, keys, islice(keys, 1, None))):
            self.order = array(WIDE, sorted(range(table.size), key=keys.__getitem__))
        self._finals(requests)
        self._columns: dict[str, Sequence[Any]] = {}

    def _finals(self, requests: Sequence[Any]) -> None:
        """Per item code: its requests (an array of counts) and its last request's status (by start)."""
        book = self.table.columns["item_id"].book  # type: ignore[union-attr]
        ids = column(requests, "item_id")
        if isinstance(ids, CodedColumn) and ids.values is book.values:
            codes: Sequence[int] = ids.codes  # the spool's requests: coded in this same book
        else:
            codes = array(WIDE, map(book.code, ids))
        size = len(book)
        attempts = array("I", bytes(4 * size))
        statuses = column(requests, "status_code")
        if isinstance(statuses, CodedColumn):
            # The spool's statuses are coded: each item's last as a code into their few values (a byte an
            # item, where a list took 8: 2.7 MB of a million-request head's peak).
            typecode = narrowest(len(statuses.values))
            last: MutableSequence[Any] = array(typecode, bytes(size * array(typecode).itemsize))
            self._last_values: Sequence[Any] | None = statuses.values
            statuses = statuses.codes
        else:
            last, self._last_values = [None] * size, None
        for code, status in zip(codes, statuses):
            attempts[code] += 1
            last[code] = status
        self._attempts, self._last = attempts, last

    def __len__(self) -> int:
        return self.table.size

    def _rows(self, start: int, stop: int) -> Sequence[int]:
        return range(start, stop) if self.order is None else self.order[start:stop]

    def _make(self, rows: Sequence[int]) -> list[dict[str, Any]]:
        table, start_ns, attempts, last, statuses = self.table, self.start_ns, self._attempts, self._last, self._last_values
        codes = _values(table.columns["item_id"].codes, rows)  # type: ignore[union-attr]
        made = []
        for values in zip(*(_values(kept, rows) for kept in table._order), codes):
            item_id, outcome, error, duration, started, thread, attributes, code = values
            record = {"item_id": item_id, "outcome": outcome, "error": error, "duration_ms": duration}
            if thread is not None:
                record["thread"] = thread
            if attributes is not None:
                record["attributes"] = attributes
            record["start_offset_ms"] = round(((start_ns if started is None else started) - start_ns) / 1e6, 3)
            record["attempts"] = n = 0 if item_id is None else attempts[code]
            record["final_status"] = (last[code] if statuses is None else statuses[last[code]]) if n else None
            made.append(record)
        if table.absent.rows:
            for row, record in zip(rows, made):
                for key in table.absent.at(row) or ():
                    record.pop(key, None)  # started_ns is never among a made record's keys
        return redact_tree(made, self.secrets)  # type: ignore[return-value]

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        rows = self._rows(0, self.table.size)
        if isinstance(index, slice):
            return self._make(rows[index])
        return self._make([rows[index]])[0]

    def at(self, indexes: Sequence[int]) -> list[dict[str, Any]]:
        """The records at ``indexes`` (positions in this sequence), in that order, made a chunk at a time."""
        rows = self._rows(0, self.table.size)
        made: list[dict[str, Any]] = []
        for start in range(0, len(indexes), _CHUNK):
            made += self._make([rows[i] for i in indexes[start:start + _CHUNK]])
        return made

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, self.table.size, _CHUNK):
            yield from self._make(self._rows(start, min(start + _CHUNK, self.table.size)))

    def chunks(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The records ``size`` at a time (``jsontext.compact_parts`` writes them so)."""
        for start in range(0, self.table.size, size):
            yield self._make(self._rows(start, min(start + size, self.table.size)))

    def column_of(self, key: str) -> Sequence[Any]:
        """Each record's value of ``key``, in order, as ``attempts.column`` reads it (kept: never change it)."""
        found = self._columns.get(key)
        if found is None:
            kept = self.table.columns.get(key)
            if kept is None or key == "started_ns":
                found = [record.get(key) for record in self]
            else:
                whole = kept.column(0, self.table.size)
                order = self.order
                if order is None:
                    found = whole
                elif isinstance(whole, CodedColumn):
                    found = CodedColumn(array(whole.codes.typecode, map(whole.codes.__getitem__, order)), whole.values)
                else:
                    found = list(map(whole.__getitem__, order))
            self._columns[key] = found
        return found


def _values(kept: Column | Micros | Runs | array[int], rows: Sequence[int]) -> Sequence[Any]:
    """``kept``'s values at ``rows`` (a range is a slice; rows close together read one slice)."""
    if isinstance(kept, array):
        return kept[rows.start:rows.stop] if isinstance(rows, range) else [kept[row] for row in rows]
    if isinstance(rows, range):
        return kept.column(rows.start, rows.stop)
    if not rows:
        return []
    low, high = min(rows), max(rows) + 1
    if high - low > 4 * len(rows):  # scattered: one at a time
        return [kept.at(row) for row in rows]
    whole = kept.column(low, high)
    return [whole[row - low] for row in rows]
