"""The bounded table of traces an assembler waits on: capped, timed out, and the traces to ignore.

:class:`PendingTraces` decides which ``pending_job.PendingJob`` a span goes
to, and which traces are given up; it never touches the disk (the assembler
hands the jobs given up to the writer, which owns their spools). Bounds:

- a trace whose root is no job span is no job (:meth:`PendingTraces.no_job`);
- at most ``max_pending`` traces wait at once: a new one pushes out the least
  recently seen (:meth:`PendingTraces.job_for`);
- a trace not seen for ``timeout`` seconds goes (:meth:`PendingTraces.expire`);
- when spools alone exceed the disk quota, the least recently seen trace that
  has a spool goes (:meth:`PendingTraces.drop_oldest_spooled`).

Every trace given up is counted in :attr:`PendingTraces.dropped`; traces
given up and traces that are no job are remembered (the last
``MAX_IGNORED_TRACES`` of them) so that their later spans are ignored: no
file of half a job.

Thread-safe: every method takes the table's lock, briefly.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .pending_job import PendingJob

#: Traces remembered as ignored (dropped, or no job); the oldest are forgotten first.
MAX_IGNORED_TRACES = 10_000


class PendingTraces:
    """Traces waiting for their job span, with the traces to ignore (see the module doc)."""

    def __init__(self, new_job: Callable[[int], PendingJob], *, max_pending: int, timeout: float) -> None:
        self._new_job = new_job
        self.max_pending = max_pending
        self.timeout = timeout
        self._waiting: OrderedDict[int, PendingJob] = OrderedDict()  # least recently seen first
        self._ignored: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()
        #: Traces given up (no job span in time, too many waiting, no room on disk).
        self.dropped = 0

    def job_for(self, trace_id: int, *, job_span: bool) -> tuple[PendingJob | None, list[PendingJob]]:
        """The job a span of ``trace_id`` goes to (None: the trace is ignored), and the traces pushed out.

        A ``job_span`` finishes its job: the job leaves the table. Any other span marks its trace the most
        recently seen; a new trace pushes out the least recently seen beyond ``max_pending`` (given up).
        """
        with self._lock:
            if trace_id in self._ignored:
                return None, []
            job = self._waiting.get(trace_id)
            evicted: list[PendingJob] = []
            if job is None:
                job = self._waiting[trace_id] = self._new_job(trace_id)
                while len(self._waiting) > self.max_pending:
                    _, oldest = self._waiting.popitem(last=False)
                    self._given_up(oldest)
                    evicted.append(oldest)
            else:
                self._waiting.move_to_end(trace_id)
                job.last_seen = time.monotonic()
            if job_span:
                del self._waiting[trace_id]
            return job, evicted

    def no_job(self, trace_id: int) -> PendingJob | None:
        """The trace is no job (its root is no job span): ignore it from now on; returns what it had gathered."""
        with self._lock:
            gathered = self._waiting.pop(trace_id, None)
            self._ignore(trace_id)
        return gathered

    def expire(self, now: float | None = None) -> list[PendingJob]:
        """Give up the traces not seen for ``timeout`` seconds (by ``time.monotonic``) and return them."""
        now = time.monotonic() if now is None else now
        expired: list[PendingJob] = []
        with self._lock:
            while self._waiting:
                job = next(iter(self._waiting.values()))
                if now - job.last_seen < self.timeout:
                    break
                del self._waiting[job.trace_id]
                self._given_up(job)
                expired.append(job)
        return expired

    def drop_oldest_spooled(self) -> PendingJob | None:
        """Give up the least recently seen trace that has a spool and return it (None: there is none).

        Call on the writer thread only: it alone changes spools, so they are read safely here.
        """
        with self._lock:
            for job in self._waiting.values():
                if job.spool is not None and job.spool.bytes:
                    del self._waiting[job.trace_id]
                    self._given_up(job)
                    return job
        return None

    def clear(self) -> list[PendingJob]:
        """Forget every waiting trace (not counted as dropped) and return them."""
        with self._lock:
            waiting = list(self._waiting.values())
            self._waiting.clear()
        return waiting

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def _given_up(self, job: PendingJob) -> None:
        """Count a dropped trace and ignore the rest of it (call under ``_lock``)."""
        self.dropped += 1
        self._ignore(job.trace_id)

    def _ignore(self, trace_id: int) -> None:
        """Remember a trace whose spans are to be ignored (call under ``_lock``)."""
        self._ignored[trace_id] = None
        if len(self._ignored) > MAX_IGNORED_TRACES:
            self._ignored.popitem(last=False)
