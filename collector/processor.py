"""The per-job span processor: one JSON file per job, streamed.

A job is one trace whose root span carries ``batch_debug.job.id`` (made by
``instrumentation.job_span``). :class:`JobSpanProcessor` collects each open
job's finished spans and request records in small batches; every
``BATCH_SIZE`` spans the batch goes to the writer thread, which encodes it
and appends it to the job's spool on disk (``spool.JobSpool``), so memory
stays bounded however long the job is. When the job span ends, the writer
computes the summary and writes ``job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json``
atomically. At most ``max_spans`` spans per job go into the file; the rest
are counted as dropped (their request records are still kept).

Contract, as for every SDK ``SpanProcessor``: ``on_start`` and ``on_end`` are
called synchronously on the thread that starts or ends the span, for every
recorded span; they only touch lists under a short lock and never raise. All
slow work (encoding, analysis, disk) happens on the writer thread; a failure
there is logged with ``logger.exception``, counted in
:attr:`JobFileWriter.errors` and never reaches the batch job.

On ``shutdown`` (interpreter exit, or SIGTERM when the host installs the
handler) jobs still open are written with ``"complete": false``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from . import attributes as A, jobfile, progress, records
from .document import build_head
from .health import WriteHealth
from .spool import JobSpool

logger = logging.getLogger(__name__)

BATCH_SIZE = 512


class OpenJob:
    """One job between its start and its file. ``add_request`` is thread-safe."""

    def __init__(self, job_id: str, job_span: Span, items_total: int | None) -> None:
        self.job_id = job_id
        self.job_span: Span | ReadableSpan = job_span
        self.start_ns = job_span.start_time or time.time_ns()
        self.progress = progress.JobProgress(job_id, items_total)
        # Re-entrant: a SIGTERM handler may write the job while this thread holds it.
        self.lock = threading.RLock()
        self.spans: list[ReadableSpan] = []
        self.records: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.kept = 0
        self.dropped = 0
        self.spool: JobSpool | None = None  # writer thread only

    def add_request(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.records.append(record)

    def take_batch(self) -> tuple[list[ReadableSpan], list[dict[str, Any]]]:
        with self.lock:
            spans, self.spans = self.spans, []
            batch, self.records = self.records, []
        return spans, batch


class JobFileWriter:
    """A daemon thread that encodes batches and writes job files."""

    def __init__(
        self,
        directory: Path,
        *,
        secrets: Callable[[], Sequence[str]] = tuple,
        debug_enabled: Callable[[], bool] = lambda: True,
        max_bytes: int | None = None,
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
        self._health: dict[Path, WriteHealth] = {}
        self.max_bytes = max_bytes

    # -- queueing ------------------------------------------------------------
    def call(self, work: Callable[[], object]) -> None:
        with self._cond:
            self._pending += 1
        self._ensure_thread()
        self._queue.put(work)

    def spool_batch(self, job: OpenJob) -> None:
        spans, batch = job.take_batch()
        self.call(lambda: self._spool(job, spans, batch))

    def submit(self, job: OpenJob, complete: bool) -> None:
        """Queue a finished job: write its file, then drop its progress entry."""

        def finish() -> None:
            self.write(job, complete)
            progress.retire(self.directory, job.job_id)

        self.call(finish)

    def publish(self, job: OpenJob) -> None:
        snapshot = job.progress
        self.call(lambda: progress.publish(self.directory, snapshot))

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

    # -- work (writer thread, or the caller during shutdown) -------------------
    @property
    def health(self) -> WriteHealth:
        """Write failures in the current folder (the folder can be re-pointed)."""
        found = self._health.get(self.directory)
        if found is None:
            found = self._health[self.directory] = WriteHealth()
        return found

    @property
    def errors(self) -> int:
        return self.health.errors

    @property
    def last_error(self) -> str | None:
        return self.health.last_error

    def _spool(self, job: OpenJob, spans: list[ReadableSpan], batch: list[dict[str, Any]]) -> None:
        if job.spool is None:
            job.spool = JobSpool(self.directory)
        try:
            job.spool.add(spans, batch, tuple(self._secrets()))
        except OSError as exc:
            # Disk full or folder gone: note it, drop this batch, keep the job's summary going.
            self.health.failed(self.directory, f"spooling job {job.job_id}", exc)

    def write(self, job: OpenJob, complete: bool) -> Path | None:
        """Write one job's file now; None (and logged) on failure."""
        try:
            spans, batch = job.take_batch()
            if complete:
                spans.append(job.job_span)  # type: ignore[arg-type]
            self._spool(job, spans, batch)
            secrets = tuple(self._secrets())
            head = build_head(
                job.job_id, job.job_span, job.spool.slim, job.items,  # type: ignore[union-attr]
                complete=complete, dropped_spans=job.dropped, debug_enabled=self._debug_enabled(),
                secrets=secrets, end_time_ns=time.time_ns(),
            )
            path = job.spool.write_job_file(job.job_id, head)  # type: ignore[union-attr]
        except OSError as exc:
            self.health.failed(self.directory, f"writing the job file for {job.job_id}", exc)
            return None
        except Exception as exc:  # noqa: BLE001 - never let a failure of ours reach the job
            logger.exception("batch-debug could not write the job file for %s", job.job_id)
            self.health.failed(self.directory, f"building the job file for {job.job_id}", exc)
            return None
        finally:
            if job.spool is not None:
                job.spool.close()
        self.health.succeeded(self.directory)
        self.written[job.job_id] = path
        logger.info("batch-debug wrote %s", path)
        if self.max_bytes is not None:
            try:
                for removed in jobfile.enforce_quota(self.directory, self.max_bytes, keep=path):
                    logger.info("batch-debug quota: removed %s", removed.name)
            except OSError:
                logger.warning("batch-debug could not apply the disk quota", exc_info=True)
        return path

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued task is done; False on timeout."""
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

    def __init__(self, writer: JobFileWriter, *, max_spans: int = 200_000) -> None:
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
        total = attrs.get(A.JOB_ITEMS_TOTAL)
        job = OpenJob(str(attrs[A.JOB_ID]), span, int(total) if total is not None else None)
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
        if span.kind == SpanKind.CLIENT:
            counters.requests += 1
            status = attrs.get(A.HTTP_STATUS_NEW) or attrs.get(A.HTTP_STATUS_OLD)
            if status is None or int(status) >= 400:
                counters.failed_requests += 1
            scope = span.instrumentation_scope
            if scope is None or scope.name != A.SCOPE_NAME:
                # A span from the stock instrumentation (ours come with a record): derive it.
                job.add_request(records.request_record(span, job.start_ns))
        elif A.ITEM_OUTCOME in attrs:
            counters.items_done += 1
            if attrs[A.ITEM_OUTCOME] == "failed":
                counters.items_failed += 1
            item = records.item_record(span)
            item["started_ns"] = span.start_time or 0
            job.items.append(item)
        with job.lock:
            if job.kept < self.max_spans:
                job.kept += 1
                job.spans.append(span)
                full = len(job.spans) >= BATCH_SIZE
            else:
                job.dropped += 1
                full = len(job.records) >= BATCH_SIZE
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
