"""The per-job span processor: one JSON file per job.

A job is one trace whose root span carries ``batch_debug.job.id`` (made by
``instrumentation.job_span``). :class:`JobSpanProcessor` keeps the finished
spans of each open job in memory, up to ``max_spans`` (the rest are counted
and the count goes into the file), and when the job span ends hands the job
to a writer thread, which builds the document and writes
``job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json`` atomically.

Contract, as for every SDK ``SpanProcessor``: ``on_start`` and ``on_end`` are
called synchronously on the thread that starts or ends the span, for every
recorded span; they only touch dicts and lists and never raise. All slow work
(analysis, encoding, disk) happens on the writer thread; a failure there is
logged with ``logger.exception``, counted in :attr:`JobFileWriter.errors`
and never reaches the batch job.

On ``shutdown`` (interpreter exit, SIGTERM handled by the host) jobs still
open are written with ``"complete": false``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from opentelemetry.trace import SpanKind

from . import attributes as A, jobfile, progress
from .document import build_document, dumps

logger = logging.getLogger(__name__)


@dataclass
class _OpenJob:
    job_id: str
    job_span: Span
    progress: progress.JobProgress
    spans: list[ReadableSpan] = field(default_factory=list)
    dropped: int = 0


class JobFileWriter:
    """A daemon thread that turns finished jobs into job files."""

    def __init__(
        self,
        directory: Path,
        *,
        secrets: Callable[[], Sequence[str]] = tuple,
        debug_enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self.directory = Path(directory)
        self._secrets = secrets
        self._debug_enabled = debug_enabled
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue()
        self._pending = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.written: dict[str, Path] = {}  # job id -> newest file written here
        self.errors = 0
        self.last_error: str | None = None

    def submit(self, job: _OpenJob, complete: bool) -> None:
        """Queue a finished job: write its file, then drop its progress entry."""

        def finish() -> None:
            self.write(job, complete)
            progress.retire(self.directory, job.job_id)

        self.call(finish)

    def publish(self, job: _OpenJob) -> None:
        """Queue a refresh of the job's live progress file."""
        snapshot = job.progress
        self.call(lambda: progress.publish(self.directory, snapshot))

    def call(self, work: Callable[[], object]) -> None:
        with self._cond:
            self._pending += 1
        self._ensure_thread()
        self._queue.put(work)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="batch-debug-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            try:
                work()
            except Exception:  # noqa: BLE001 - the writer thread must survive anything
                logger.exception("batch-debug writer task failed")
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def write(self, job: _OpenJob, complete: bool) -> Path | None:
        """Build and write one job's file now; None (and logged) on failure."""
        try:
            document = build_document(
                job.job_id,
                job.spans,
                job.job_span,
                complete=complete,
                dropped_spans=job.dropped,
                debug_enabled=self._debug_enabled(),
                secrets=tuple(self._secrets()),
                end_time_ns=time.time_ns(),
            )
            path = jobfile.write_atomic(self.directory, job.job_id, dumps(document))
        except Exception as exc:  # noqa: BLE001 - never let a write failure reach the job
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception("batch-debug could not write the job file for %s", job.job_id)
            return None
        self.written[job.job_id] = path
        logger.info("batch-debug wrote %s", path)
        return path

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job is written; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)


class JobSpanProcessor(SpanProcessor):
    """Groups each job's spans and writes one job file when the job ends."""

    def __init__(self, writer: JobFileWriter, *, max_spans: int = 20_000) -> None:
        if max_spans < 1:
            raise ValueError(f"max_spans must be at least 1, got {max_spans}.")
        self.writer = writer
        self.max_spans = max_spans
        self._jobs: dict[int, _OpenJob] = {}  # trace id -> open job
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attrs = span.attributes
        if attrs is None or A.JOB_ID not in attrs:
            return
        total = attrs.get(A.JOB_ITEMS_TOTAL)
        job_id = str(attrs[A.JOB_ID])
        job = _OpenJob(job_id, span, progress.JobProgress(job_id, int(total) if total is not None else None))
        with self._lock:
            self._jobs[span.context.trace_id] = job
        job.progress.due()
        self.writer.publish(job)

    def on_end(self, span: ReadableSpan) -> None:
        job = self._jobs.get(span.context.trace_id)
        if job is None:
            return
        if span.context.span_id == job.job_span.context.span_id:
            with self._lock:
                self._jobs.pop(span.context.trace_id, None)
            job.job_span = span  # type: ignore[assignment] - the ended, readable span
            self.writer.submit(job, complete=True)
            return
        if len(job.spans) < self.max_spans:
            job.spans.append(span)
        else:
            job.dropped += 1
        self._count(job, span)

    def _count(self, job: _OpenJob, span: ReadableSpan) -> None:
        counters = job.progress
        attrs = span.attributes or {}
        if span.kind == SpanKind.CLIENT:
            counters.requests += 1
            status = attrs.get(A.HTTP_STATUS_OLD) or attrs.get(A.HTTP_STATUS_NEW)
            if status is None or int(status) >= 400:
                counters.failed_requests += 1
        elif A.ITEM_OUTCOME in attrs:
            counters.items_done += 1
            if attrs[A.ITEM_OUTCOME] == "failed":
                counters.items_failed += 1
        if counters.due():
            self.writer.publish(job)

    def open_jobs(self) -> list[str]:
        """Ids of the jobs whose job span has not ended yet."""
        with self._lock:
            return [job.job_id for job in self._jobs.values()]

    def shutdown(self) -> None:
        with self._lock:
            unfinished = list(self._jobs.values())
            self._jobs.clear()
        for job in unfinished:
            # Written here, not queued: the interpreter may be on its way out.
            self.writer.write(job, complete=False)
            progress.retire(self.writer.directory, job.job_id)
        self.writer.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.writer.flush(timeout_millis / 1000)
