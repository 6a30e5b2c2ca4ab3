"""Stream a job's spans and request records to disk while the job runs.

A job of 100,000 requests must not hold 100,000 span objects until it ends.
The processor hands spans and records over in batches; the writer thread
encodes each batch at once (OTLP JSON via the OpenTelemetry encoder, a span
at a time: ``span_encoding``, less the record attribute and the attributes
the ``requests`` entry gives back: ``span_records``) and appends it to temporary files in the
debug folder (opened per batch, never held open), keeping only the fields
the summary reads, by column (``request_columns``). When the job ends,
:meth:`JobSpool.write_job_file` puts head, records and spans together: a big
job's file is its spans' spool file with the rest inserted at its start, a
small one's a copy (``spool_files``).

All methods run on the writer thread only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan

from . import atomic, jobfile, spool_files
from .jsontext import compact, compact_parts
from .redact import REDACTED, is_literal_secret
from .item_columns import ItemColumns
from .request_columns import ColumnRecords, RequestColumns
from .slim_records import SLIM_FIELDS, SlimRecord, slim_row
from .span_encoding import resource_spans_text
from .span_records import unique_entries

__all__ = ["SLIM_FIELDS", "JobSpool", "SlimRecord", "slim_row"]


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
        # By column (about 60 bytes a request and each item id once, not a tuple and its values at 540): a
        # million-request job held half a gigabyte in the worker's process for as long as it ran. Arrays and
        # shared values only, too:
        # the garbage collector has nothing to track for them (a million tracked tuples made every full
        # collection of the host's heap longer, and set one off every few thousand requests).
        self._rows = RequestColumns()
        #: The job's item records, their ids coded in the same book as the requests' (each id kept once).
        self.items = ItemColumns(self._rows.item_ids)
        self._spans_path: str | None = None
        self._records_path: str | None = None
        self._head_path: str | None = None  # the head's JSON, while the job file is made
        self._spans_bytes = 0
        self._records_bytes = 0
        #: The literal secrets every batch written so far was scrubbed of (None: nothing written yet).
        self._scrubbed_of: frozenset[str] | None = None

    def add_items(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Keep item records (rows from ``item_records.ItemRecords.drain``) for the head."""
        self.items.extend(rows)

    def slim(self) -> ColumnRecords:
        """Every request's analysed fields so far, read as :class:`SlimRecord`s (for the job file's head)."""
        return self._rows.view()

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
            # Each batch is its own ResourceSpans entry (OTLP allows repeats), made a span at a time and
            # without the records the file holds already (span_encoding, span_records).
            # A request span leaves out what its entry gives back (entry_attributes.slim; format 4).
            text = resource_spans_text(spans, unique_entries(records))
            data = (("," if self._spans_bytes else "") + _scrub(text, secrets)).encode("utf-8")
            spool_files.append(self._spans_path, data)  # type: ignore[arg-type]
            self._spans_bytes += len(data)

    def write_job_file(self, job_id: str, head: dict[str, Any], secrets: Sequence[str] = (),
                       when: datetime | None = None) -> Path:
        """Write the job file: ``head`` plus ``requests`` and ``resourceSpans`` from the spool.

        A secret some batch was written without (learned after it) is scrubbed from the spooled text on
        the way. Without one, the job file is built around the spans' spool file where the file system
        allows (``spool_files.around_spans``), else the kernel copies the spool files into a new one
        (``sendfile``): a million-request job's 1.8 GB never pass through Python as text. The head goes to
        a temporary file first, its ``items`` emptied as they are written (``jsontext.compact_parts``).
        """
        if self._spans_path is None:
            self._open()
        records_path, spans_path = self._records_path, self._spans_path
        done = self._scrubbed_of or frozenset()
        late = [s for s in dict.fromkeys(secrets) if is_literal_secret(s) and s not in done]
        stamp = when or datetime.now(timezone.utc)
        head_path = self._write_head(head)

        def place(tmp: str) -> Path:
            return jobfile.link_into_place(self.directory, job_id, tmp, stamp)

        if not late:
            made = spool_files.around_spans(spans_path, records_path, head_path, place)  # type: ignore[arg-type]
            if made is not None:
                return made

        def write(out: TextIO) -> None:
            out.flush()
            fd = out.fileno()  # straight to the descriptor
            spool_files.write_head(fd, head_path)
            spool_files.copy_into(records_path, fd, late)  # type: ignore[arg-type]
            spool_files.write_all(fd, spool_files.BETWEEN)
            spool_files.copy_into(spans_path, fd, late)  # type: ignore[arg-type]
            spool_files.write_all(fd, spool_files.END)

        return atomic.write_then(self.directory, write, place)

    def _write_head(self, head: dict[str, Any]) -> str:
        """The head's JSON without its closing brace, in a temporary file (its path; :meth:`close` removes
        it). Written a part at a time (``jsontext.compact_parts``): a million-request job's head is 70 MB of
        item records, held as records or as text, never both."""
        fd, self._head_path = atomic.temp_file(self.directory)
        try:
            last = b""
            for part in compact_parts(head, "items"):
                spool_files.write_all(fd, last)
                last = part
            spool_files.write_all(fd, memoryview(last)[:-1])
        finally:
            os.close(fd)
        return self._head_path

    def close(self) -> None:
        """Remove the temporary files (always call, also after a failure)."""
        for path in (self._spans_path, self._records_path, self._head_path):
            if path:
                _unlink(path)
        self._spans_path = self._records_path = self._head_path = None
        self._spans_bytes = self._records_bytes = 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
