"""One trace the assembler puts together: records read from its finished spans until its job span comes.

A :class:`PendingJob` is the assembler's ``openjob.OpenJob``: it is created
for the first span of a trace, before anyone knows the job's id, start or
whether the trace is a job at all. :meth:`PendingJob.collect` takes each
finished span: request records from the attempt spans
(``records.request_record``, as the processor reads them), item records from
the item spans, the span itself for the file. :meth:`PendingJob.name` is
called when the job span (the one carrying ``batch_debug.job.id``, which
ends after all its children) arrives; the job then goes to the writer.

Request spans of other senders carry no record attribute, so their records
are read here, and their start offset, relative to the job's start, has to
wait for the job span: at most ``DEFERRED_LIMIT`` of them wait in memory; past
that the earliest span seen stands in for the job's start.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from . import attributes as A, records
from .openjob import OpenJob
from .secrets import SecretBook

logger = logging.getLogger(__name__)

#: Records of other senders' spans that wait for the job span's start before the earliest span stands in.
DEFERRED_LIMIT = 512


class PendingJob(OpenJob):
    """A trace whose job span has not arrived yet. Thread-safe, like every ``OpenJob``."""

    def __init__(self, trace_id: int, secrets: SecretBook | None = None) -> None:
        super().__init__("", None, None)
        self.trace_id = trace_id
        self.first_start_ns = 0
        #: When a span of the trace was last seen (``time.monotonic``): the timeout counts from here.
        self.last_seen = time.monotonic()
        # Records of spans without a record attribute: (span start, record), offsets still to set.
        self.deferred: list[tuple[int, dict[str, Any]]] = []
        if secrets is not None:
            self.secret_books.append(secrets)

    def collect(self, span: ReadableSpan, max_spans: int) -> bool:
        """Take a span other than the job span; True when a batch is ready for the spool."""
        start = span.start_time or 0
        attrs = span.attributes or {}
        with self.lock:
            if start and (not self.first_start_ns or start < self.first_start_ns):
                self.first_start_ns = start
            if records.is_request_span(span):
                if A.RECORD in attrs:
                    # Ours carry their start offset: read on the writer thread like the processor's.
                    self.request_spans.append(span)
                else:
                    try:
                        self.deferred.append((start, records.request_record(span, None)))
                    except (ValueError, TypeError) as exc:
                        self.dropped_records += 1
                        logger.warning("batch-debug dropped the record of a request span: %s", exc)
                    if len(self.deferred) >= DEFERRED_LIMIT:
                        self.settle(self.first_start_ns)  # the best estimate of the job's start so far
            elif records.is_item_span(span):
                self.items.append(records.item_record(span))
        return self.keep(span, max_spans)

    def name(self, job_span: ReadableSpan, job_id: str) -> None:
        """The job span arrived: the job has its id and start, and every record its offset."""
        with self.lock:
            self.job_id = job_id
            self.job_span = job_span
            self.start_ns = job_span.start_time or self.first_start_ns
            self.settle(self.start_ns)

    def settle(self, base_ns: int) -> None:
        """Give deferred records their offset from ``base_ns`` and queue them."""
        with self.lock:
            for start, record in self.deferred:
                record["start_offset_ms"] = round((start - base_ns) / 1e6, 3)
                self.records.append(record)
            self.deferred = []
