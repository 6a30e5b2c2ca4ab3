"""A job's item records while it runs: a plain tuple each, a dict again when the head is built.

``records.item_record`` reads an item span into a dict (``item_id``,
``outcome``, ``error``, ``duration_ms``, ``started_ns``, and ``thread`` and
``attributes`` when the span has them). A million-request job has a third of
a million items, and their dicts were about 360 bytes each, held from the
item's end to the job's, each one tracked by the garbage collector (so walked
by every full collection of the host's heap). :class:`ItemRecords` keeps the
same values as a tuple (about 170 bytes with its values; a tuple of atomic
values the collector stops tracking at its first pass) and gives the dicts
back, equal and in the same key order, when the head asks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

#: The keys an item record may have, in the order ``records.item_record`` makes them.
_KEYS = ("item_id", "outcome", "error", "duration_ms", "started_ns", "thread", "attributes")
_MISSING = object()  # an optional key the record did not have (None is a value it may have)


class ItemRecords:
    """Item records in the order they were added. Thread-safe: items end on the job's threads."""

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Keep ``record`` (a dict from ``records.item_record``: keys other than those it makes are dropped)."""
        row = tuple(record.get(key, _MISSING) for key in _KEYS)
        with self._lock:
            self._rows.append(row)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The records as dicts, each a new one."""
        for row in list(self._rows):
            yield _record(row)

    def take(self) -> list[dict[str, Any]]:
        """Every record as a dict, and forget them here: each row is let go as its dict is made, so the
        job never holds both (the head, which calls this once, gives the dicts their offsets and finals)."""
        with self._lock:
            rows, self._rows = self._rows, []
        rows.reverse()
        found = []
        while rows:
            found.append(_record(rows.pop()))
        return found


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    return {key: value for key, value in zip(_KEYS, row) if value is not _MISSING}
