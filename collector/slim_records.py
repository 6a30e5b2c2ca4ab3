"""What the analysis keeps of each request record while a job runs: ``SLIM_FIELDS``, as a plain tuple.

:func:`slim_row` takes those fields of a record (an error body as its gist,
the URL only where no item stands for the request); a :class:`SlimRecord`
reads such a tuple like a mapping.
``request_columns`` keeps the rows of a job by column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

from .bodytext import gist

#: Record fields the analysis reads; kept in memory, in this order, per request.
SLIM_FIELDS = ("item_id", "attempt", "route", "status_code", "error_type", "error_phase", "duration_ms",
               "start_offset_ms", "connection_reused", "server", "http_version", "retry_after", "ttfb_ms",
               "connect_ms", "body_bytes", "body_ms", "conn_close", "credential_form", "credential_fp",
               "content_type", "error_body", "url", "body_kind", "body_text", "error_message")
_INDEX = {name: i for i, name in enumerate(SLIM_FIELDS)}
_BODY = _INDEX["error_body"]
_TEXT = _INDEX["body_text"]
_URL = _INDEX["url"]
_ITEM = _INDEX["item_id"]


class SlimRecord(tuple):  # noqa: SLOT001 - a tuple subclass with no per-instance dict
    """A request record's analysed fields, read like a mapping (``r["status_code"]``)."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, _INDEX[key])
        return tuple.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        index = _INDEX.get(key)
        if index is None:
            return default
        value = tuple.__getitem__(self, index)
        return default if value is None else value

    @classmethod
    def column(cls, records: Sequence[SlimRecord], key: str) -> list[Any]:
        """``[r.get(key) for r in records]`` at C speed (``attempts.column`` asks for it).

        Raises ``TypeError`` when a record is not a tuple.
        """
        index = _INDEX.get(key)
        if index is None:
            return [None] * len(records)
        return list(map(tuple.__getitem__, records, repeat(index)))

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> SlimRecord:
        return cls(slim_row(record))


def slim_row(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """A request record's analysed fields as a plain tuple (what a :class:`SlimRecord` holds)."""
    values = list(map(record.get, SLIM_FIELDS))
    if values[_BODY] is not None:
        # The analysis reads an error body's gist (its message), never all of it.
        values[_BODY] = gist(values[_BODY])
    if values[_TEXT] is not None:
        values[_TEXT] = gist(values[_TEXT])  # a 2xx body's words, as an error body's
    if values[_ITEM] is not None:
        values[_URL] = None  # the URL stands in for the item only where there is none
    return tuple(values)
