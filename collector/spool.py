"""Stream a job's spans and request records to disk while the job runs.

A job of 100,000 requests must not hold 100,000 span objects until it ends.
The processor hands spans and records over in batches; the writer thread
encodes each batch at once (OTLP JSON via the OpenTelemetry encoder, a span
at a time: ``span_encoding``, less the record attribute and the attributes
the ``requests`` entry gives back: ``span_records``) and keeps only the
fields the summary reads, by column (``request_columns``). The encoded text
is held in memory until the job's spool holds :data:`HOLD_BYTES`; from then
on it goes to two temporary files in the debug folder, a batch at a time
(opened per batch, never held open). When the job ends,
:meth:`JobSpool.write_job_file` puts head, records and spans together: a
small job's file is written straight from memory, a big job's is its spans'
spool file with the rest inserted at its start (``spool_files``), one in
between a copy of the spool files.

Why hold: a job of a few items (what an operator reruns) made five files
for its one (two spool files, the head's, the job file's temporary name),
and the file system work was most of what the job cost besides its requests.

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

#: What a job's spool holds in memory before it writes to temporary files: a job of about 40 requests. All the
#: open jobs' spools together hold at most ``writer.HELD_LIMIT`` (the assembler may keep a thousand traces waiting
#: for their job spans: 64 MB, held each to the full).
HOLD_BYTES = 64 << 10
_REDACTED = REDACTED.encode("ascii")


def _scrub(text: str, secrets: Sequence[str]) -> str:
    # Sources redact every known form; this catches the literal key anywhere
    # else at the cost of a substring search. Only values that cannot be part
    # of JSON syntax are replaced, so the text stays valid JSON.
    for secret in secrets:
        if is_literal_secret(secret) and secret in text:
            text = text.replace(secret, REDACTED)
    return text


class _Text:
    """One of a spool's two texts (the request records, the span groups): JSON values, comma-separated,
    held (``held``) until the spool spills, then in the temporary file at ``path``."""

    __slots__ = ("held", "path", "size", "written")

    def __init__(self) -> None:
        self.held: list[bytes] = []
        self.path: str | None = None
        self.size = 0  # bytes so far: written and held
        self.written = 0  # bytes in the file

    def add(self, text: str) -> int:
        """Hold ``text`` (its comma first when it is not the first); the bytes it took."""
        data = (("," if self.size else "") + text).encode("utf-8")
        self.held.append(data)
        self.size += len(data)
        return len(data)

    def spill(self) -> None:
        """Append what is held to the file; on failure it is dropped (the file keeps its whole batches)."""
        if not self.held:
            return
        data = b"".join(self.held)
        try:
            spool_files.append(self.path, data)  # type: ignore[arg-type]
        except OSError:
            self.drop()
            raise
        self.held = []
        self.written += len(data)

    def drop(self) -> None:
        """Let go of what is held; the next batch's comma is decided by what the file has."""
        self.held = []
        self.size = self.written


class JobSpool:
    """The encoded part of one open job: in memory up to :data:`HOLD_BYTES`, then on disk.

    Its two temporary files are opened for each batch, appended to and closed
    again: a sidecar with a thousand traces waiting for their job spans holds
    no file descriptor for them. :attr:`bytes` is what the texts take, held
    or on disk, for the writer's disk quota.
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
        self._spans = _Text()
        self._records = _Text()
        self._held = 0  # bytes held by both texts
        self._spilled = False  # the texts went to their temporary files (and every later batch goes there)
        self._head_path: str | None = None  # the head's JSON, while the job file is made
        #: The literal secrets every batch written so far was scrubbed of (None: nothing written yet).
        self._scrubbed_of: frozenset[str] | None = None

    def add_items(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Keep item records (rows from ``item_records.ItemRecords.drain``) for the head."""
        self.items.extend(rows)

    def slim(self) -> ColumnRecords:
        """Every request's analysed fields so far, read as :class:`SlimRecord`s (for the job file's head)."""
        return self._rows.view()

    @property
    def held(self) -> int:
        """Bytes of the encoded texts held in memory (0 once spilled, or closed)."""
        return self._held

    @property
    def bytes(self) -> int:
        """Bytes of the encoded texts, held or in the temporary files (0 once closed)."""
        return self._spans.size + self._records.size

    def _spill(self) -> None:
        """Everything held to the temporary files (made on the first call); every later batch goes there too."""
        if self._spans.path is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, self._spans.path = atomic.temp_file(self.directory)
            os.close(fd)
        if self._records.path is None:
            fd, self._records.path = atomic.temp_file(self.directory)
            os.close(fd)
        self._spilled = True
        self._held = 0
        try:
            self._records.spill()
        except OSError:
            # Their spans go too: a request span left out what its record gives back, and could not be
            # made whole without it (the records were always written first, and a failure stopped there).
            self._spans.drop()
            raise
        self._spans.spill()

    def add(self, spans: Sequence[ReadableSpan], records: Iterable[dict[str, Any]],
            secrets: Sequence[str] = (), *, may_hold: bool = True) -> None:
        """Encode and add one batch: held, while this spool holds at most :data:`HOLD_BYTES` and ``may_hold``
        (the writer's limit for all spools), else appended to the spool files with what was held. The slim
        records are kept even if the disk fails."""
        records = list(records)
        self._rows.extend(map(slim_row, records))
        if records or spans:
            literal = frozenset(s for s in secrets if is_literal_secret(s))
            self._scrubbed_of = literal if self._scrubbed_of is None else self._scrubbed_of & literal
        if records:
            text = compact(records)[1:-1]  # one call for the batch: the list's items, comma-separated
            self._held += self._records.add(_scrub(text, secrets))
        if spans:
            # Each batch is its own ResourceSpans entry (OTLP allows repeats), made a span at a time and
            # without the records the file holds already (span_encoding, span_records).
            # A request span leaves out what its entry gives back (entry_attributes.slim; format 4).
            text = resource_spans_text(spans, unique_entries(records))
            self._held += self._spans.add(_scrub(text, secrets))
        if self._spilled or self._held > HOLD_BYTES or not may_hold:
            self._spill()

    def write_job_file(self, job_id: str, head: dict[str, Any], secrets: Sequence[str] = (),
                       when: datetime | None = None) -> Path:
        """Write the job file: ``head`` plus ``requests`` and ``resourceSpans`` from the spool.

        A secret some batch was written without (learned after it) is scrubbed from the spooled text on
        the way. A spool that never spilled is written from memory, in one file. Otherwise, without a late
        secret, the job file is built around the spans' spool file where the file system allows
        (``spool_files.around_spans``), else the kernel copies the spool files into a new one
        (``sendfile``): a million-request job's 1.8 GB never pass through Python as text. The head then goes
        to a temporary file first, its ``items`` emptied as they are written (``jsontext.compact_parts``).
        """
        done = self._scrubbed_of or frozenset()
        late = [s for s in dict.fromkeys(secrets) if is_literal_secret(s) and s not in done]
        stamp = when or datetime.now(timezone.utc)

        def place(tmp: str) -> Path:
            return jobfile.link_into_place(self.directory, job_id, tmp, stamp)

        if not self._spilled:
            self.directory.mkdir(parents=True, exist_ok=True)
            return atomic.write_then(self.directory, lambda out: self._write_held(out, head, late), place)
        self._spill()  # what the last batches left held
        records_path, spans_path = self._records.path, self._spans.path
        head_path = self._write_head(head)

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

    def _write_held(self, out: TextIO, head: dict[str, Any], late: Sequence[str]) -> None:
        """The job file of a spool that never spilled: head, records and spans from memory, ``late`` scrubbed."""
        out.flush()
        fd = out.fileno()
        _write_head_parts(fd, head)
        spool_files.write_all(fd, spool_files.REQUESTS)
        for text, between in ((self._records, spool_files.BETWEEN), (self._spans, spool_files.END)):
            data = b"".join(text.held)
            for secret in late:
                data = data.replace(secret.encode("ascii"), _REDACTED)
            spool_files.write_all(fd, data)
            spool_files.write_all(fd, between)

    def _write_head(self, head: dict[str, Any]) -> str:
        """The head's JSON without its closing brace, in a temporary file (its path; :meth:`close` removes
        it). Written a part at a time (``jsontext.compact_parts``): a million-request job's head is 70 MB of
        item records, held as records or as text, never both."""
        fd, self._head_path = atomic.temp_file(self.directory)
        try:
            _write_head_parts(fd, head)
        finally:
            os.close(fd)
        return self._head_path

    def close(self) -> None:
        """Remove the temporary files and let go of what is held (always call, also after a failure)."""
        for path in (self._spans.path, self._records.path, self._head_path):
            if path:
                _unlink(path)
        self._spans, self._records, self._head_path = _Text(), _Text(), None
        self._held = 0


def _write_head_parts(fd: int, head: dict[str, Any]) -> None:
    """The head's JSON without its closing brace, a part at a time (``jsontext.compact_parts``)."""
    last = b""
    for part in compact_parts(head, "items"):
        spool_files.write_all(fd, last)
        last = part
    spool_files.write_all(fd, memoryview(last)[:-1])


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
