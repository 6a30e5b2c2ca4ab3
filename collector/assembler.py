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

- spans are grouped by trace id, each trace in a ``pending_job.PendingJob``
  that reads the request records from the attempt spans and the item
  records from the item spans;
- the job span (the one carrying ``batch_debug.job.id``) ends after all its
  children, so its arrival finishes the job: the file is written on the
  writer thread, with ``"complete": true``;
- a root span without a job id means its trace is no job (a request made
  outside any job): what was gathered for it is dropped at once;
- a trace whose job span has not come ``pending_timeout`` seconds after its
  last span (the worker died, or its job span was lost) is dropped with a
  debug log, as are the least recently seen traces beyond
  ``max_pending_traces`` and, when the spools of waiting traces alone exceed
  the writer's disk quota, the least recently seen traces that have a spool
  (``pending_traces.PendingTraces`` keeps these bounds). Every drop is
  counted in :attr:`JobAssembler.dropped_traces`; later spans of a dropped
  trace are ignored (no file of half a job).

Stale traces are swept by a daemon thread every ``sweep_interval`` seconds,
so a sidecar that stops receiving spans still lets them go; :meth:`start`
starts it (the sidecar's app does, and :meth:`add` does on first use), and
:meth:`shutdown` stops it. The thread holds the assembler only weakly: an
assembler that is forgotten without ``shutdown`` ends its thread too.

Memory, disk and file descriptors stay bounded: spans go to the writer in
batches of ``openjob.BATCH_SIZE`` and are spooled on disk until the job ends
(the spool holds no file open between batches, and counts in the disk
quota); in memory stay the item records and at most a batch of records
waiting for the job's start time.

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
import weakref
from collections.abc import Callable, Iterable

from opentelemetry.sdk.trace import ReadableSpan

from . import attributes as A, config
from .jobfile import validate_job_id
from .openjob import OpenJob
from .pending_job import PendingJob
from .pending_traces import PendingTraces
from .sanitize import sanitize_span
from .secrets import SecretBook
from .writer import JobFileWriter

logger = logging.getLogger(__name__)

PENDING_TIMEOUT_SECONDS = 600.0
#: Traces waiting for their job span at once; each costs memory and (once past a batch) two spool files.
MAX_PENDING_TRACES = 1000
SWEEP_SECONDS = 5.0


class JobAssembler:
    """Builds one job file per trace from finished spans (see the module doc)."""

    def __init__(
        self,
        writer: JobFileWriter,
        *,
        max_spans: int = config.DEFAULT_MAX_SPANS,
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
        #: Credentials learned from the spans (``sanitize``): redacted from them and scrubbed from every file.
        self.secrets: SecretBook | None = SecretBook() if sanitize else None
        secrets = self.secrets  # not self: the table must not keep the assembler alive (see the sweeper)
        self._traces = PendingTraces(lambda trace_id: PendingJob(trace_id, secrets),
                                     max_pending=max_pending_traces, timeout=pending_timeout)
        self._lock = threading.Lock()  # guards the sweeper's lifecycle
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._sweeper_pid = 0  # the process the sweeper runs in (a forked child has none)
        self._closed = False
        # Weakly, like the sweeper: the writer's thread must not keep a forgotten assembler alive.
        writer.drop_waiting = _weak_call(weakref.ref(self))

    @property
    def dropped_traces(self) -> int:
        """Traces given up (no job span in time, too many waiting, no room on disk)."""
        return self._traces.dropped

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
        job_id = (span.attributes or {}).get(A.JOB_ID)
        if job_id is None and span.parent is None:
            # A root that is no job span: this trace is not a job.
            gathered = self._traces.no_job(trace_id)
            if gathered is not None:
                self.writer.discard(gathered)
            return
        job, evicted = self._traces.job_for(trace_id, job_span=job_id is not None)
        for dropped in evicted:
            logger.debug("batch-debug: too many open traces; dropped trace %032x", dropped.trace_id)
            self.writer.discard(dropped)
        if job is None:
            return
        if job_id is not None:
            self._finish(job, span, str(job_id))
        elif job.collect(span, self.max_spans):
            self.writer.spool_batch(job)

    def _finish(self, job: PendingJob, span: ReadableSpan, job_id: str) -> None:
        try:
            validate_job_id(job_id)
        except ValueError as exc:
            logger.warning("batch-debug dropped a trace: %s", exc)
            self.writer.discard(job)
            return
        job.name(span, job_id)
        self.writer.submit(job, complete=True)

    # -- bounds ------------------------------------------------------------------
    def _drop_oldest_spooled(self) -> OpenJob | None:
        """The writer's ``drop_waiting`` (writer thread): forget the least recently seen trace with a spool."""
        job = self._traces.drop_oldest_spooled()
        if job is not None:
            logger.debug("batch-debug: no room for trace %032x on disk; dropped", job.trace_id)
        return job

    def sweep(self, now: float | None = None) -> int:
        """Drop traces whose job span did not come in time; returns how many."""
        expired = self._traces.expire(now)
        for job in expired:
            logger.debug("batch-debug: no job span for trace %032x after %.0f s; dropped %d spans",
                         job.trace_id, self.pending_timeout, job.kept)
            self.writer.discard(job)  # its spool goes on the writer thread, which owns it
        return len(expired)

    def pending(self) -> int:
        """How many traces wait for their job span."""
        return len(self._traces)

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
        waiting = self._traces.clear()
        if waiting:
            logger.info("batch-debug: %d traces had no job span at shutdown; dropped", len(waiting))
        for job in waiting:
            self.writer.discard(job)
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
