"""A job's item records on their way to the writer thread: a plain tuple each, a few at a time.

``records.item_record`` reads an item span into a dict (``item_id``,
``outcome``, ``error``, ``duration_ms``, ``started_ns``, and ``thread`` and
``attributes`` when the span has them) on the thread where the item ended.
:class:`ItemRecords` keeps its values as a tuple (in :data:`KEYS` order,
:data:`MISSING` for a key the record did not have) until the writer thread
takes them with each batch (:meth:`ItemRecords.drain`) into the job's item
columns (``item_columns.ItemColumns``): a million-request job's third of a
million item dicts, about 360 bytes each, were held from each item's end to
the job's, each one tracked by the garbage collector.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

#: The keys an item record may have, in the order ``records.item_record`` makes them.
KEYS = ("item_id", "outcome", "error", "duration_ms", "started_ns", "thread", "attributes")
#: An optional key the record did not have (None is a value it may have).
MISSING: Any = object()


def item_row(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """``record`` as a row: its values in :data:`KEYS` order (keys not among them are dropped)."""
    return tuple(record.get(key, MISSING) for key in KEYS)


class ItemRecords:
    """Item records in the order they were added, until drained. Thread-safe: items end on the job's threads."""

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Keep ``record`` (a dict from ``records.item_record``)."""
        row = item_row(record)
        with self._lock:
            self._rows.append(row)

    def __len__(self) -> int:
        return len(self._rows)

    def drain(self) -> list[tuple[Any, ...]]:
        """The rows kept since the last drain, in order, and forget them here."""
        with self._lock:
            rows, self._rows = self._rows, []
        return rows
