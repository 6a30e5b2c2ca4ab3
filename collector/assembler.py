"""Assemble job files from finished spans alone, whatever their source.

Usage::

    assembler = JobAssembler(JobFileWriter(folder, max_bytes=500 * 2**20))
    assembler.start()             # sweep stale traces on a timer (add() starts it too)
    assembler.add(spans)          # any finished spans, in any grouping and order
    assembler.flush()             # wait until the files of finished jobs are written
    assembler.shutdown()          # stop the timer, drop what still waits, stop the writer

Where :class:`processor.JobSpanProcessor` watches this process's spans start
and end, the assembler only ever sees finished spans: the ones an exporter
plugin is handed (``plugins.JobFileExporter``), or spans that workers on other
hosts sent over OTLP to the sidecar (``dashboard/otlp.py``). It writes the
same job file with the same writer.

How spans are put together (one job = one trace):

- spans are grouped by trace id; their request records are read from the
  attempt spans by ``records.request_record`` (as the processor reads
  them), item records from the item spans;
- the job span (the one carrying ``batch_debug.job.id``) ends after all its
  children, so its arrival finishes the job: the file is written on the
  writer thread, with ``"complete": true``;
- a root span without a job id means its trace is no job (a request made
  outside any job): what was gathered for it is dropped at once;
- a trace whose job span has not come ``pending_timeout`` seconds after its
  last span (the worker died, or its job span was lost) is dropped with a
  debug log, as are the least recently seen traces beyond
  ``max_pending_traces`` and, when the spools of waiting traces alone exceed
  the writer's disk quota, the least recently seen traces that have a spool.
  Every drop is counted in :attr:`JobAssembler.dropped_traces`; later spans
  of a dropped trace are ignored (no file of half a job).

Stale traces are swept by a daemon thread every ``sweep_interval`` seconds,
so a sidecar that stops receiving spans still lets them go; :meth:`start`
starts it (the sidecar's app does, and :meth:`add` does on first use), and
:meth:`shutdown` stops it. The thread holds the assembler only weakly: an
assembler that is forgotten without ``shutdown`` ends its thread too.

Memory, disk and file descriptors stay bounded: spans go to the writer in
batches of ``BATCH_SIZE`` and are spooled on disk until the job ends (the
spool holds no file open between batches, and counts in the disk quota);
in memory stay the item records
and, for spans without a record attribute, at most a batch of records whose
start offset waits for the job's start time (past a batch, the earliest
span seen stands in for it).

With ``sanitize=True`` (the sidecar's receiver: spans from anywhere) every
span first goes through ``sanitize.sanitize_span``: credentials in auth
positions are learned, redacted from every string, and scrubbed from every
file this assembler writes.

Thread safety: :meth:`add` may be called from any number of threads at once
(the sidecar's request threads, a ``SimpleSpanProcessor`` on every worker
thread). It never raises for a bad span: it logs and goes on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from . import attributes as A, records
from .jobfile import validate_job_id
from .sanitize import sanitize_span
from .secrets import SecretBook
from .writer import BATCH_SIZE, JobFileWriter, OpenJob

logger = logging.getLogger(__name__)

PENDING_TIMEOUT_SECONDS = 600.0
#: Traces waiting for their job span at once; each costs memory and (once past a batch) two spool files.
MAX_PENDING_TRACES = 1000
MAX_IGNORED_TRACES = 10_000
SWEEP_SECONDS = 5.0


class _Pending(OpenJob):
    """A trace whose job span has not arrived yet."""

    def __init__(self) -> None:
        super().__init__("", None, None)
        self.first_start_ns = 0
        self.last_seen = time.monotonic()
        # Records of spans without a record attribute: (span start, record), offsets still to set.
        self.deferred: list[tuple[int, dict[str, Any]]] = []

    def settle(self, base_ns: int) -> None:
        """Give deferred records their offset from ``base_ns`` and queue them (call under ``lock``)."""
        for start, record in self.deferred:
            record["start_offset_ms"] = round((start - base_ns) / 1e6, 3)
            self.records.append(record)
        self.deferred = []


class JobAssembler:
    """Builds one job file per trace from finished spans (see the module doc)."""

    def __init__(
        self,
        writer: JobFileWriter,
        *,
        max_spans: int = 250_000,
        pending_timeout: float = PENDING_TIMEOUT_SECONDS,
        max_pending_traces: int = MAX_PENDING_TRACES,
        sweep_interval: float = SWEEP_SECONDS,
        sanitize: bool = False,
    ) -> None:
        if max_spans < 1 or max_pending_traces < 1 or pending_timeout <= 0 or sweep_interval <= 0:
            raise ValueError("max_spans and max_pending_traces must be at least 1, and pending_timeout and "
                             "sweep_interval above 0.")
        self.writer = writer
        self.max_spans = max_spans
        self.pending_timeout = pending_timeout
        self.max_pending_traces = max_pending_traces
        self.sweep_interval = sweep_interval
        self._pending: OrderedDict[int, _Pending] = OrderedDict()  # least recently seen first
        self._ignored: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()
        #: Traces given up (no job span in time, too many waiting, no room on disk).
        self.dropped_traces = 0
        #: Credentials learned from the spans (``sanitize``): redacted from them and scrubbed from every file.
        self.secrets: SecretBook | None = SecretBook() if sanitize else None
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._sweeper_pid = 0  # the process the sweeper runs in (a forked child has none)
        self._closed = False
        # Weakly, like the sweeper: the writer's thread must not keep a forgotten assembler alive.
        writer.drop_waiting = _weak_call(weakref.ref(self))

    # -- input -------------------------------------------------------------------
    def add(self, spans: Iterable[ReadableSpan]) -> None:
        """Take finished spans of any traces; never raises."""
        if self._sweeper_pid != os.getpid():
            self.start()
        for span in spans:
            try:
                self._add(span)
            except Exception:  # noqa: BLE001 - one bad span must not cost the others
                logger.exception("batch-debug could not assemble span %r", getattr(span, "name", span))

    def _add(self, span: ReadableSpan) -> None:
        if self.secrets is not None:
            span = sanitize_span(span, self.secrets)
        trace_id = span.context.trace_id
        attrs = span.attributes or {}
        job_id = attrs.get(A.JOB_ID)
        with self._lock:
            if trace_id in self._ignored:
                return
            if job_id is None and span.parent is None:
                # A root that is no job span: this trace is not a job.
                self._ignore(trace_id, self._pending.pop(trace_id, None))
                return
            job = self._pending.get(trace_id)
            if job is None:
                job = self._pending[trace_id] = _Pending()
                if self.secrets is not None:
                    job.secret_books.append(self.secrets)
                self._evict_over_limit()
            else:
                self._pending.move_to_end(trace_id)
                job.last_seen = time.monotonic()
            if job_id is not None:
                del self._pending[trace_id]
        if job_id is not None:
            self._finish(job, span, str(job_id))
        elif self._collect(job, span):
            self.writer.spool_batch(job)

    def _collect(self, job: _Pending, span: ReadableSpan) -> bool:
        """Take the span's record(s) into ``job``; True when a batch is ready for the spool."""
        start = span.start_time or 0
        attrs = span.attributes or {}
        with job.lock:
            if start and (not job.first_start_ns or start < job.first_start_ns):
                job.first_start_ns = start
            if records.is_request_span(span):
                if A.RECORD in attrs:
                    # Ours carry their start offset: read on the writer thread like the processor's.
                    job.request_spans.append(span)
                else:
                    try:
                        job.deferred.append((start, records.request_record(span, None)))
                    except (ValueError, TypeError) as exc:
                        job.dropped_records += 1
                        logger.warning("batch-debug dropped the record of a request span: %s", exc)
                    if len(job.deferred) >= BATCH_SIZE:
                        job.settle(job.first_start_ns)  # the best estimate of the job's start so far
            elif records.is_item_span(span):
                job.items.append(records.item_record(span))
        return job.keep(span, self.max_spans)

    def _finish(self, job: _Pending, span: ReadableSpan, job_id: str) -> None:
        try:
            validate_job_id(job_id)
        except ValueError as exc:
            logger.warning("batch-debug dropped a trace: %s", exc)
            self._close(job)
            return
        with job.lock:
            job.job_id = job_id
            job.job_span = span
            job.start_ns = span.start_time or job.first_start_ns
            job.settle(job.start_ns)
        self.writer.submit(job, complete=True)

    # -- bounds ------------------------------------------------------------------
    def _ignore(self, trace_id: int, job: _Pending | None) -> None:
        """Remember a trace that is no job (call under ``_lock``)."""
        self._ignored[trace_id] = None
        if len(self._ignored) > MAX_IGNORED_TRACES:
            self._ignored.popitem(last=False)
        if job is not None:
            self._close(job)

    def _evict_over_limit(self) -> None:
        """Drop the least recently seen traces beyond ``max_pending_traces`` (call under ``_lock``)."""
        while len(self._pending) > self.max_pending_traces:
            trace_id, job = self._pending.popitem(last=False)
            logger.debug("batch-debug: too many open traces; dropped trace %032x", trace_id)
            self._given_up(trace_id)
            self._close(job)

    def _given_up(self, trace_id: int) -> None:
        """Count a dropped trace and ignore the rest of it (call under ``_lock``)."""
        self.dropped_traces += 1
        self._ignore(trace_id, None)

    def _drop_oldest_spooled(self) -> OpenJob | None:
        """The writer's ``drop_waiting`` (writer thread): forget the least recently seen trace with a spool."""
        with self._lock:
            for trace_id, job in self._pending.items():
                # Read here safely: the writer thread, the only one that changes spools, is the caller.
                if job.spool is not None and job.spool.bytes:
                    del self._pending[trace_id]
                    self._given_up(trace_id)
                    logger.debug("batch-debug: no room for trace %032x on disk; dropped", trace_id)
                    return job
        return None

    def sweep(self, now: float | None = None) -> int:
        """Drop traces whose job span did not come in time; returns how many."""
        now = time.monotonic() if now is None else now
        expired: list[tuple[int, _Pending]] = []
        with self._lock:
            while self._pending:
                trace_id, job = next(iter(self._pending.items()))
                if now - job.last_seen < self.pending_timeout:
                    break
                del self._pending[trace_id]
                self._given_up(trace_id)
                expired.append((trace_id, job))
        for trace_id, job in expired:
            logger.debug("batch-debug: no job span for trace %032x after %.0f s; dropped %d spans",
                         trace_id, self.pending_timeout, job.kept)
            self._close(job)
        return len(expired)

    def _close(self, job: _Pending) -> None:
        """Forget a trace: its spool (on the writer thread, which owns it) goes too."""
        self.writer.discard(job)

    def pending(self) -> int:
        """How many traces wait for their job span."""
        with self._lock:
            return len(self._pending)

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start the sweeper thread (idempotent; again in a forked child, where the parent's does not run)."""
        with self._lock:
            if self._closed or (self._sweeper_pid == os.getpid() and self._sweeper is not None):
                return
            self._sweeper_pid = os.getpid()
            self._sweeper = threading.Thread(target=_sweep_until_stopped,
                                             args=(weakref.ref(self), self._stop, self.sweep_interval),
                                             name="batch-debug-sweeper", daemon=True)
            self._sweeper.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every finished job's file is written; False on timeout."""
        return self.writer.flush(timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the sweeper, drop traces still waiting (they have no job id to name a file by), then stop
        the writer."""
        with self._lock:
            self._closed = True
            sweeper, self._sweeper = self._sweeper, None
        self._stop.set()
        if sweeper is not None and sweeper is not threading.current_thread():
            sweeper.join(timeout)
        with self._lock:
            waiting = list(self._pending.values())
            self._pending.clear()
        if waiting:
            logger.info("batch-debug: %d traces had no job span at shutdown; dropped", len(waiting))
        for job in waiting:
            self._close(job)
        self.writer.close(timeout)


def _sweep_until_stopped(ref: weakref.ref[JobAssembler], stop: threading.Event, interval: float) -> None:
    """The sweeper thread: sweep every ``interval`` seconds until ``stop`` is set or the assembler is gone."""
    while not stop.wait(interval):
        assembler = ref()
        if assembler is None:
            return
        try:
            assembler.sweep()
        except Exception:  # noqa: BLE001 - the timer must outlive any one failure
            logger.exception("batch-debug could not sweep stale traces")
        del assembler


def _weak_call(ref: weakref.ref[JobAssembler]) -> Callable[[], OpenJob | None]:
    """The writer's ``drop_waiting`` hook, calling the assembler while it exists."""

    def drop_waiting() -> OpenJob | None:
        assembler = ref()
        return assembler._drop_oldest_spooled() if assembler is not None else None  # noqa: SLF001

    return drop_waiting
