"""One job between its start and its file: the buffers a job builder fills for the writer.

Both builders (:class:`processor.JobSpanProcessor`, spans of this process;
:class:`assembler.JobAssembler`, finished spans from anywhere) keep one
:class:`OpenJob` per job and hand it to the one ``writer.JobFileWriter``.
Spans and request records wait here in batches of ``BATCH_SIZE``; when a
batch is full, :meth:`OpenJob.keep` says so once and the builder queues it
for the writer thread, which takes it with :meth:`OpenJob.take_batch` and
spools it to disk (``spool.JobSpool``), so memory stays bounded however long
the job is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from . import progress, records
from .item_records import ItemRecords
from .spool import JobSpool

logger = logging.getLogger(__name__)

#: Spans (or request records) per batch handed to the writer thread.
#: Small on purpose. A span waiting for its batch outlives the garbage collector's young generations;
#: once promoted it counts towards the next full collection, which walks the host's whole heap. With
#: 512 a 30,000-request job set off 33 full collections (about 30 us a request), with 32 it set off 8;
#: each batch then costs two short appends and one more ResourceSpans entry (about 430 bytes).
BATCH_SIZE = 32


class OpenJob:
    """One job between its start and its file. Its methods are thread-safe."""

    def __init__(self, job_id: str, job_span: ReadableSpan | None, items_total: int | None) -> None:
        self.job_id = job_id
        # None until known: the assembler learns it when the job span, which ends last, arrives.
        self.job_span: ReadableSpan | None = job_span
        self.start_ns = (job_span.start_time if job_span is not None else None) or time.time_ns()
        self.progress = progress.JobProgress(job_id, items_total)
        # Re-entrant: a SIGTERM handler may write the job while this thread holds it.
        self.lock = threading.RLock()
        self.spans: list[ReadableSpan] = []  # to encode into resourceSpans
        self.request_spans: list[ReadableSpan] = []  # whose records the writer thread derives
        self.records: list[dict[str, Any]] = []  # records already derived (the assembler's late offsets)
        self.items = ItemRecords()
        #: Secrets learned by the instrumentation while the job ran (``secrets.SecretBook``s).
        self.secret_books: list[Any] = []
        #: How many items have started so far (the instrumentation's count; set while the job runs).
        self.items_started: Callable[[], int] | None = None
        self.kept = 0
        self.dropped = 0
        #: Request records left out because they could not be read (``records.DamagedRecord``).
        self.dropped_records = 0
        #: Given up (its trace waited too long, or there was no room): the writer spools nothing more for it.
        self.discarded = False
        self._queued = False  # a batch is waiting for the writer thread
        self.spool: JobSpool | None = None  # writer thread only

    def keep_request(self, span: ReadableSpan, max_spans: int) -> bool:
        """Take an attempt span's record (read on the writer thread) and :meth:`keep` the span."""
        with self.lock:
            self.request_spans.append(span)
            return self.keep(span, max_spans)

    def keep(self, span: ReadableSpan, max_spans: int) -> bool:
        """Keep ``span`` for the file (or count it dropped past ``max_spans``).

        True, once per batch, when a batch is full: the caller queues it for the writer thread.
        """
        with self.lock:  # re-entrant: keep_request holds it already
            if self.kept < max_spans:
                self.kept += 1
                self.spans.append(span)
                full = len(self.spans) >= BATCH_SIZE
            else:
                self.dropped += 1
                full = len(self.records) + len(self.request_spans) >= BATCH_SIZE
            if full and not self._queued:
                self._queued = True
                return True
            return False

    def take_batch(self) -> tuple[list[ReadableSpan], list[dict[str, Any]]]:
        """(spans to encode, request records), the records of request spans derived here."""
        with self.lock:
            spans, self.spans = self.spans, []
            batch, self.records = self.records, []
            pending, self.request_spans = self.request_spans, []
            self._queued = False
        for span in pending:
            try:
                batch.append(records.request_record(span, self.start_ns))
            except (ValueError, TypeError) as exc:
                self.dropped_records += 1
                logger.warning("batch-debug dropped the record of a request span of job %s: %s", self.job_id, exc)
        return spans, batch

    def learned_secrets(self) -> tuple[str, ...]:
        """Every secret the job's books hold now (they may still learn more)."""
        return tuple(value for book in list(self.secret_books) for value in book.values())
