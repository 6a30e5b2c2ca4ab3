"""The per-job span processor: one JSON file per job, streamed.

A job is one trace whose root span carries ``batch_debug.job.id`` (made by
``instrumentation.job_span``). :class:`JobSpanProcessor` sees the job span
start, so it can show the job's live progress and write a running job as
incomplete when the process stops. It collects each open job's finished
spans in small batches; every ``BATCH_SIZE`` spans the batch goes to the
writer thread (``writer.JobFileWriter``), which reads the request records
from the attempt spans (``records.request_record``, the same reading the
assembler does) and spools both to disk, so memory stays bounded however
long the job is. When the job span
ends, the writer writes ``job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json`` atomically.
(Finished spans from elsewhere are put together by ``assembler.JobAssembler``
into the same file, with the same writer.) At most ``max_spans`` spans per job go into the file; the rest
are counted as dropped (their request records are still kept).

Contract, as for every SDK ``SpanProcessor``: ``on_start`` and ``on_end`` are
called synchronously on the thread that starts or ends the span, for every
recorded span; they only touch lists under a short lock and never raise. All
slow work (encoding, analysis, disk) happens on the writer thread; a failure
there is logged with ``logger.exception``, counted in
:attr:`JobFileWriter.errors` and never reaches the batch job.

On ``shutdown`` (interpreter exit, or SIGTERM when the host installs the
handler) jobs still open are written with ``"complete": false``.

A job span whose job id is not valid (``jobfile.validate_job_id``: it could
name a path outside the folder) is not recorded as a job: no progress file,
no job file, one warning. ``instrumentation.job_span`` refuses such ids
already; this guards spans made by hand.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from . import attributes as A, config, jobspan, progress, records
from .jobfile import validate_job_id
from .openjob import BATCH_SIZE, OpenJob
from .writer import JobFileWriter

__all__ = ["BATCH_SIZE", "JobFileWriter", "JobSpanProcessor", "OpenJob"]

logger = logging.getLogger(__name__)


class JobSpanProcessor(SpanProcessor):
    """Groups each job's spans and writes one job file when the job ends."""

    def __init__(self, writer: JobFileWriter, *, max_spans: int = config.DEFAULT_MAX_SPANS) -> None:
        if max_spans < 1:
            raise ValueError(f"max_spans must be at least 1, got {max_spans}.")
        self.writer = writer
        self.max_spans = max_spans
        self._jobs: dict[int, OpenJob] = {}  # trace id -> open job
        self._lock = threading.RLock()

    def job_for(self, trace_id: int) -> OpenJob | None:
        """The open job of a trace (the instrumentation hands it request records)."""
        return self._jobs.get(trace_id)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attrs = span.attributes
        if attrs is None or A.JOB_ID not in attrs:
            return
        try:
            job_id = validate_job_id(str(attrs[A.JOB_ID]))
        except ValueError as exc:
            logger.warning("batch-debug does not record the job span %r: %s", span.name, exc)
            return
        # Never raises (on_start must not): a total that is not a count is left undeclared.
        job = OpenJob(job_id, span, jobspan.count_attribute(attrs, A.JOB_ITEMS_TOTAL))
        with self._lock:
            self._jobs[span.context.trace_id] = job
        job.progress.due()
        self.writer.publish(job)

    def on_end(self, span: ReadableSpan) -> None:
        job = self._jobs.get(span.context.trace_id)
        if job is None:
            return
        job_span = job.job_span  # set by on_start for every job of this processor
        if job_span is not None and span.context.span_id == job_span.context.span_id:
            with self._lock:
                self._jobs.pop(span.context.trace_id, None)
            job.job_span = span
            self.writer.submit(job, complete=True)
            return
        try:
            self._collect(job, span)
        except Exception:  # noqa: BLE001 - SpanProcessor.on_end must not raise
            logger.exception("batch-debug could not collect a span of job %s", job.job_id)

    def _collect(self, job: OpenJob, span: ReadableSpan) -> None:
        counters = job.progress
        attrs = span.attributes or {}
        if A.RECORD in attrs or records.is_request_span(span):
            counters.requests += 1
            status = attrs.get(A.HTTP_STATUS_NEW) or attrs.get(A.HTTP_STATUS_OLD)
            if A.ERROR_TYPE in attrs or status is None or _status_at_least(status, 400):
                counters.failed_requests += 1
            # Its record is read from the span on the writer thread (``records.request_record``).
            full = job.keep_request(span, self.max_spans)
        else:
            if A.ITEM_OUTCOME in attrs:
                counters.items_done += 1
                if attrs[A.ITEM_OUTCOME] == "failed":
                    counters.items_failed += 1
                job.items.append(records.item_record(span))
            full = job.keep(span, self.max_spans)
        if full:
            self.writer.spool_batch(job)
        if counters.due():
            self.writer.publish(job)

    def open_jobs(self) -> list[str]:
        """Ids of the jobs whose job span has not ended yet."""
        with self._lock:
            return [job.job_id for job in self._jobs.values()]

    def write_unfinished(self, timeout: float = 10.0) -> list[Path]:
        """Write every open job now, marked ``"complete": false`` (process stopping)."""
        with self._lock:
            unfinished = list(self._jobs.values())
            self._jobs.clear()
        self.writer.flush(timeout)
        written = []
        for job in unfinished:
            if job.items_started is not None and job.job_span is not None:
                # The job span is still open: it learns now what its end would have recorded.
                job.job_span.set_attribute(A.JOB_ITEMS_STARTED, job.items_started())  # type: ignore[attr-defined]
            # Written here, not queued: the interpreter may be on its way out.
            path = self.writer.write(job, complete=False)
            progress.retire(self.writer.directory, job.job_id)
            if path is not None:
                written.append(path)
        return written

    def shutdown(self) -> None:
        self.write_unfinished()
        self.writer.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.writer.flush(timeout_millis / 1000)


def _status_at_least(status: object, floor: int) -> bool:
    """``status >= floor``; a status that is no number (a span made by hand) counts as at least."""
    try:
        return int(status) >= floor  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return True
