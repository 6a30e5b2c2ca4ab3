"""A job file read in pieces: its request records one at a time, or the first page of them.

Usage::

    head, first, more = first_requests(path, 1500)   # the page's timeline: head + first records
    for record in iter_requests(path):                # the correlation: one record in memory at a time
        ...

Job files are written head first with the requests streamed after
``jobfile.STREAM_MARKER``; these readers decode the records one by one
(``json.JSONDecoder.raw_decode`` over 1 MiB reads), so a 1.8 GB file of a
1,000,000-request job costs memory for one record. A file without the
marker (other writers, hand edits) is loaded whole. Errors are
``jobfile.JobFileError`` naming the file, raised when met.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from . import jobfile


def _records(handle: BinaryIO, rest: bytes) -> Iterator[Any]:
    """The items of the JSON array whose opening bracket was just read (``rest`` is what followed it),
    one at a time, reading on only as far as they need. ``ValueError`` when the array is damaged."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    text, pos = utf8.decode(rest), 0

    def more() -> bool:
        nonlocal text
        chunk = handle.read(jobfile.HEAD_CHUNK)
        text += utf8.decode(chunk, final=not chunk)
        return bool(chunk)

    while True:
        while True:  # to the next record, past a comma and blanks
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos < len(text) or not more():
                break
        if pos >= len(text):
            raise ValueError("the requests list is cut short")
        if text[pos] == "]":
            return
        while True:
            try:
                record, pos = decoder.raw_decode(text, pos)
                break
            except ValueError:
                if not more():
                    raise
        yield record
        if pos > jobfile.HEAD_CHUNK:  # what was read is dropped now and then, not copied per record
            text, pos = text[pos:], 0


def _first_records(handle: BinaryIO, rest: bytes, limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` records (:func:`_records`) and whether more follow."""
    records: list[Any] = []
    for record in _records(handle, rest):
        if len(records) == limit:
            return records, True
        records.append(record)
    return records, False


def iter_requests(path: Path) -> Iterator[Any]:
    """Every request record of a job file, one at a time: memory for one record, not for a 1.8 GB file
    (the correlation of a 1M-request job). Files without the marker are loaded whole. Errors as
    :func:`load`, raised when met."""
    try:
        with jobfile.open_for_reading(path) as handle:
            split = jobfile.split_head(handle)
            if split is not None:
                yield from _records(handle, split[1])
                return
    except OSError as exc:
        raise jobfile.read_error(path, exc) from exc
    except ValueError as exc:
        raise jobfile.JobFileError(f"job file {Path(path).name} is damaged or truncated: {exc}") from exc
    requests = jobfile.load(path).get("requests")
    if not isinstance(requests, list):
        raise jobfile.JobFileError(f"job file {Path(path).name} has no requests list")
    yield from requests


def first_requests(path: Path, limit: int, *, items: bool = True) -> tuple[dict[str, Any], list[Any], bool]:
    """A job file's head, its first ``limit`` request records and whether it has more: a page of a
    1,000,000-request file without reading (or sending) all of it. ``items=False``: the head without
    its item records (``jobfile.parse_head``). Files without the marker (other writers, hand edits)
    are loaded whole. Errors as :func:`load`."""
    try:
        with jobfile.open_for_reading(path) as handle:
            split = jobfile.split_head(handle)
            if split is not None:
                head = jobfile.parse_head(split[0], items=items)
                if isinstance(head, dict) and "summary" in head:
                    records, truncated = _first_records(handle, split[1], limit)
                    return head, records, truncated
    except OSError as exc:
        raise jobfile.read_error(path, exc) from exc
    except ValueError:
        pass  # fall back to the whole file, which gives the precise error
    data = jobfile.load(path)
    requests = data.pop("requests", None)
    data.pop("resourceSpans", None)
    if not items:
        data.pop("items", None)
    if not isinstance(requests, list):
        raise jobfile.JobFileError(f"job file {Path(path).name} has no requests list")
    return data, requests[:limit], len(requests) > limit
