"""Compact JSON text, fast: the one encoder for what batch-debug writes per request.

Usage::

    compact({"status_code": 200})   # '{"status_code":200}'

Job files hold a record and a span per HTTP attempt, so the JSON encoding
of those is on the cost of every recorded request. orjson writes the same
compact JSON as ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``
several times faster (numbers in their shortest round-trip form, non-ASCII
text as is, keys in order); non-string keys are written as text.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def compact(value: Any) -> str:
    """``value`` as compact JSON text (raises ``TypeError`` for what JSON cannot hold)."""
    return orjson.dumps(value, option=_OPTIONS).decode()


def compact_bytes(value: Any) -> bytes:
    """:func:`compact` as UTF-8 bytes, made once (a 1M-request job's head is 60 MB of JSON)."""
    return orjson.dumps(value, option=_OPTIONS)


def compact_parts(value: MutableMapping[str, Any], key: str, chunk: int = 1024) -> Iterator[bytes]:
    """:func:`compact_bytes` of ``value`` as parts whose concatenation it is, ``value[key]`` (a long
    sequence, the last key) written a chunk at a time.

    A million-request job's head holds a third of a million item records: made into 70 MB of JSON at
    once, they lived beside their JSON. Here each chunk's records are let go once written, and a
    caller that writes each part away as it comes (``spool.JobSpool``) never holds the text either.
    ``value[key]`` may be a list (emptied as it is written, when written in chunks) or a sequence that
    makes its records in chunks itself (``chunks(size)``: ``item_columns.HeadItems``). A chunk of 1,024
    records: 4,096 (their dicts, redacted copies and text) raised a million-request head's peak RSS by
    4 to 5 MB, as fast.
    """
    items = value.get(key)
    last = list(value)[-1] == key
    parts: Iterator[list[Any]]
    made = getattr(items, "chunks", None)
    if made is not None and last:
        parts = made(chunk)
    elif isinstance(items, list) and len(items) > chunk and last:
        parts = _emptied(items, chunk)
    else:
        if made is not None:  # not the last key: made whole
            value[key] = [record for part in made(chunk) for record in part]
        yield compact_bytes(value)
        return
    value[key] = []
    try:
        whole = compact_bytes(value)  # ends with the empty list and the closing brace: "...,"key":[]}"
    finally:
        value[key] = items
    yield whole[:-2]
    first = True
    for part in parts:
        if part:
            text = compact_bytes(part)[1:-1]
            yield text if first else b"," + text
            first = False
    yield b"]}"


def _emptied(items: list[Any], chunk: int) -> Iterator[list[Any]]:
    """``items`` ``chunk`` at a time, each chunk's records let go from ``items`` once the next is asked for."""
    for start in range(0, len(items), chunk):
        stop = min(start + chunk, len(items))
        yield items[start:stop]
        items[start:stop] = [None] * (stop - start)  # the records of this chunk go
    items.clear()
