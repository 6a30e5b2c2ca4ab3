"""Stream a job's spans and request records to disk while the job runs.

A job of 100,000 requests must not hold 100,000 span objects until it ends.
The processor hands spans and records over in batches; the writer thread
encodes each batch at once (OTLP JSON via the OpenTelemetry encoder) and
appends it to temporary files in the debug folder (opened per batch, never
held open), keeping only a slim tuple per request for the summary. When the
job ends, :meth:`JobSpool.write_job_file` puts head, records and spans
together: a big job's file is its spans' spool file with the rest inserted at
its start, a small one's a copy (``spool_files``).

All methods run on the writer thread only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from itertools import repeat
from pathlib import Path
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan

from . import atomic, jobfile, spool_files
from .bodytext import gist
from .jsontext import compact, compact_bytes
from .redact import REDACTED, is_literal_secret

#: Record fields the analysis reads; kept in memory, in this order, per request.
SLIM_FIELDS = ("item_id", "attempt", "route", "status_code", "error_type", "error_phase", "duration_ms",
               "start_offset_ms", "connection_reused", "server", "http_version", "retry_after", "ttfb_ms",
               "connect_ms", "body_bytes", "body_ms", "conn_close", "credential_form", "credential_fp",
               "content_type", "error_body", "url")
#: Text fields with few distinct values: one shared copy each, not one per request.
_SHARED = tuple(SLIM_FIELDS.index(name) for name in (
    "route", "error_type", "error_phase", "server", "http_version", "retry_after", "credential_form",
    "credential_fp", "content_type"))
_INDEX = {name: i for i, name in enumerate(SLIM_FIELDS)}
_BODY = _INDEX["error_body"]
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
    for index in _SHARED:
        value = values[index]
        if type(value) is str:
            values[index] = sys.intern(value)
    if values[_BODY] is not None:
        # The analysis reads an error body's gist (its message), never all of it.
        values[_BODY] = gist(values[_BODY])
    if values[_ITEM] is not None:
        values[_URL] = None  # the URL stands in for the item only where there is none
    return tuple(values)


def _scrub(text: str, secrets: Sequence[str]) -> str:
    # Sources redact every known form; this catches the literal key anywhere
    # else at the cost of a substring search. Only values that cannot be part
    # of JSON syntax are replaced, so the text stays valid JSON.
    for secret in secrets:
        if is_literal_secret(secret) and secret in text:
            text = text.replace(secret, REDACTED)
    return text


class JobSpool:
    """The on-disk part of one open job.

    Its two temporary files are opened for each batch, appended to and closed
    again: a sidecar with a thousand traces waiting for their job spans holds
    no file descriptor for them. :attr:`bytes` is what they take on disk, for
    the writer's disk quota.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Plain tuples of atomic values while the job runs: the garbage collector stops tracking them at its
        # first pass. SlimRecords (a tuple subclass) it would track for the job's life: a million of them
        # made every full collection of the host's heap longer, and triggered one every few thousand requests.
        self._rows: list[tuple[Any, ...]] = []
        self._spans_path: str | None = None
        self._records_path: str | None = None
        self._spans_bytes = 0
        self._records_bytes = 0
        #: The literal secrets every batch written so far was scrubbed of (None: nothing written yet).
        self._scrubbed_of: frozenset[str] | None = None

    def slim(self) -> list[SlimRecord]:
        """Every request's analysed fields so far, as :class:`SlimRecord`s (for the job file's head).

        The rows become SlimRecords in place, one at a time, so the list is never held twice.
        """
        rows: list[Any] = self._rows
        for index, row in enumerate(rows):
            if type(row) is tuple:
                rows[index] = SlimRecord(row)
        return rows

    @property
    def bytes(self) -> int:
        """Bytes of the temporary files (0 once closed)."""
        return self._spans_bytes + self._records_bytes

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, self._spans_path = atomic.temp_file(self.directory)
        os.close(fd)
        fd, self._records_path = atomic.temp_file(self.directory)
        os.close(fd)

    def add(self, spans: Sequence[ReadableSpan], records: Iterable[dict[str, Any]],
            secrets: Sequence[str] = ()) -> None:
        """Encode and append one batch. The slim records are kept even if the disk fails."""
        records = list(records)
        self._rows.extend(map(slim_row, records))
        if self._spans_path is None:
            self._open()
        if records or spans:
            literal = frozenset(s for s in secrets if is_literal_secret(s))
            self._scrubbed_of = literal if self._scrubbed_of is None else self._scrubbed_of & literal
        if records:
            text = compact(records)[1:-1]  # one call for the batch: the list's items, comma-separated
            data = (("," if self._records_bytes else "") + _scrub(text, secrets)).encode("utf-8")
            spool_files.append(self._records_path, data)  # type: ignore[arg-type]
            self._records_bytes += len(data)
        if spans:
            # Imported on first use: a process that never records never needs the encoder.
            from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans

            resource_spans = encode_spans(spans).to_dict().get("resourceSpans", [])
            # Each batch is its own ResourceSpans entry: OTLP allows repeats.
            text = compact(resource_spans)[1:-1]
            data = (("," if self._spans_bytes else "") + _scrub(text, secrets)).encode("utf-8")
            spool_files.append(self._spans_path, data)  # type: ignore[arg-type]
            self._spans_bytes += len(data)

    def write_job_file(self, job_id: str, head: dict[str, Any], secrets: Sequence[str] = (),
                       when: datetime | None = None) -> Path:
        """Write the job file: ``head`` plus ``requests`` and ``resourceSpans`` from the spool.

        A secret some batch was written without (learned after it) is scrubbed from the spooled text on
        the way. Without one, the job file is built around the spans' spool file where the file system
        allows (``spool_files.around_spans``), else the kernel copies the spool files into a new one
        (``sendfile``): a million-request job's 1.8 GB never pass through Python as text.
        """
        if self._spans_path is None:
            self._open()
        records_path, spans_path = self._records_path, self._spans_path
        done = self._scrubbed_of or frozenset()
        late = [s for s in dict.fromkeys(secrets) if is_literal_secret(s) and s not in done]
        stamp = when or datetime.now(timezone.utc)
        head_json = compact_bytes(head)
        def place(tmp: str) -> Path:
            return jobfile.link_into_place(self.directory, job_id, tmp, stamp)

        if not late:
            made = spool_files.around_spans(spans_path, records_path, head_json, place)  # type: ignore[arg-type]
            if made is not None:
                return made

        def write(out: TextIO) -> None:
            out.flush()
            fd = out.fileno()  # straight to the descriptor
            spool_files.write_head(fd, head_json)
            spool_files.copy_into(records_path, fd, late)  # type: ignore[arg-type]
            spool_files.write_all(fd, spool_files.BETWEEN)
            spool_files.copy_into(spans_path, fd, late)  # type: ignore[arg-type]
            spool_files.write_all(fd, spool_files.END)

        return atomic.write_then(self.directory, write, place)

    def close(self) -> None:
        """Remove the temporary files (always call, also after a failure)."""
        for path in (self._spans_path, self._records_path):
            if path:
                _unlink(path)
        self._spans_path = self._records_path = None
        self._spans_bytes = self._records_bytes = 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
