"""Writing job files: each open job's batches spooled, the disk quota kept, the file when the job ends.

Shared by the two ways a job is put together: :class:`processor.JobSpanProcessor`
(spans of this process, seen as they start and end) and
:class:`assembler.JobAssembler` (finished spans from anywhere: an exporter
plugin, OTLP from other hosts). Both fill an ``openjob.OpenJob`` and hand it
to one :class:`JobFileWriter`, so a job file has the same content whichever
way its spans came.

All of the work runs on the writer's daemon thread (``task_thread.TaskThread``).
Every batch is encoded and added to the job's spool (``spool.JobSpool``)
there: held in memory up to ``spool.HOLD_BYTES``, then on disk, so memory
stays bounded however long the job is;
when the job ends the summary is computed and
``job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json`` written atomically. A failure there
is logged with ``logger.exception``, counted in :attr:`JobFileWriter.errors`
and never reaches the batch job.

The disk quota (``max_bytes``) covers job files and the spools of open
jobs together: after each job file, and each time the spools have grown by a
sixteenth of the quota, the oldest job files go until both fit in
``QUOTA_DOWN_TO`` (90%) of it. The folder's
job files are counted every 30 s, each file written here added at
once (``retention.FolderBytes``): files other processes write into the same
folder are seen within ``retention.RECOUNT_SECONDS``. When the
spools alone are over it, the writer asks its :attr:`JobFileWriter.drop_waiting`
hook (the assembler's: jobs waiting for a job span from elsewhere) for
jobs to give up, oldest first; the local processor's running jobs are never
dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from . import progress, retention
from .document import build_head
from .health import WriteHealth
from .openjob import OpenJob
from .spool import JobSpool
from .task_thread import TaskThread

logger = logging.getLogger(__name__)

#: What the spools of all open jobs may hold in memory together (each up to ``spool.HOLD_BYTES``); past it, a
#: batch goes to its spool files at once.
HELD_LIMIT = 4 << 20
#: Over the quota, the oldest job files go until the rest take this share of it: the next files then fit
#: without a deletion, and a count of the folder, after every job (a folder of 30,000 small jobs' files at its
#: quota had its sizes read after each one).
QUOTA_DOWN_TO = 0.9


class JobFileWriter:
    """Spools batches and writes job files on its daemon thread."""

    def __init__(
        self,
        directory: Path,
        *,
        secrets: Callable[[], Sequence[str]] = tuple,
        debug_enabled: Callable[[], bool] = lambda: True,
        max_bytes: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        #: Literal values (API keys) to scrub from the file; may be re-pointed.
        self.secrets = secrets
        self._debug_enabled = debug_enabled
        self._tasks = TaskThread("batch-debug-writer")
        self.written: dict[str, Path] = {}  # job id -> newest file written here
        self._health: dict[Path, WriteHealth] = {}
        self.max_bytes = max_bytes
        #: Called on the writer thread when spools alone exceed ``max_bytes``: forget the oldest job that
        #: may be given up and return it (None: there is none). The assembler sets it.
        self.drop_waiting: Callable[[], OpenJob | None] | None = None
        self._spool_total = 0  # bytes the spools of open jobs take (writer thread only)
        self._held_total = 0  # of which held in memory (spool.HOLD_BYTES)
        self._grown = 0  # spool bytes added since the quota was last applied
        self._job_bytes = retention.FolderBytes()  # the folder's job files, counted every 30 s

    # -- queueing (any thread) -------------------------------------------------
    def call(self, work: Callable[[], object]) -> None:
        """Run ``work`` on the writer thread, after the tasks queued before it."""
        self._tasks.call(work)

    def spool_batch(self, job: OpenJob) -> None:
        """Queue the job's full batch: it goes to the job's spool on disk."""
        self.call(lambda: self._spool(job, *job.take_batch()))

    def submit(self, job: OpenJob, complete: bool) -> None:
        """Queue a finished job: write its file, then drop its progress entry."""

        def finish() -> None:
            self.write(job, complete)
            progress.retire(self.directory, job.job_id)

        self.call(finish)

    def discard(self, job: OpenJob) -> None:
        """Give up a job that will get no file: nothing more is spooled for it and its spool goes."""
        job.discarded = True
        self.call(lambda: self._close_spool(job))

    def publish(self, job: OpenJob) -> None:
        """Queue the job's live progress for the dashboard."""
        snapshot = job.progress
        self.call(lambda: progress.publish(self.directory, snapshot))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued task is done; False on timeout."""
        return self._tasks.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued tasks (waiting up to ``timeout``) and stop the writer thread."""
        self._tasks.close(timeout)

    # -- health ----------------------------------------------------------------
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

    # -- spools and quota (writer thread, or the caller during shutdown) --------
    def _spool(self, job: OpenJob, spans: list[ReadableSpan], batch: list[dict[str, Any]]) -> None:
        if job.discarded:
            return  # a batch queued before the job was given up
        if job.spool is None:
            job.spool = JobSpool(self.directory)
        job.spool.add_items(job.items.drain())  # kept even when the disk fails below
        before, held = job.spool.bytes, job.spool.held
        try:
            # Held in memory while all the open jobs together hold less than HELD_LIMIT: a thousand traces
            # waiting for their job spans (the assembler's bound) would otherwise hold 64 KB each.
            job.spool.add(spans, batch, self._secrets(job), may_hold=self._held_total < HELD_LIMIT)
        except OSError as exc:
            # Disk full or folder gone: note it, drop this batch, keep the job's summary going.
            self.health.failed(self.directory, f"spooling job {job.job_id}", exc)
        self._held_total += job.spool.held - held
        grown = job.spool.bytes - before
        self._spool_total += grown
        self._grown += grown
        if self.max_bytes is not None and (self._spool_total > self.max_bytes
                                           or self._grown >= self.max_bytes // 16):
            self._apply_quota()

    def _close_spool(self, job: OpenJob) -> None:
        if job.spool is not None:
            self._spool_total -= job.spool.bytes
            self._held_total -= job.spool.held
            job.spool.close()

    def spool_bytes(self) -> int:
        """Bytes the spools of open jobs take on disk now."""
        return self._spool_total

    def _apply_quota(self, keep: Path | None = None) -> None:
        """Fit spools and job files into ``max_bytes``: waiting jobs first if spools alone are over,
        then the oldest job files (never ``keep``, the file just written)."""
        max_bytes = self.max_bytes
        if max_bytes is None:
            return
        self._grown = 0
        dropped = 0
        while self._spool_total > max_bytes and self.drop_waiting is not None:
            job = self.drop_waiting()
            if job is None:
                break
            job.discarded = True
            self._close_spool(job)
            dropped += 1
        if dropped:
            logger.warning("batch-debug quota: traces waiting for their job span took more than %d bytes on disk; "
                           "dropped the %d oldest", max_bytes, dropped)
        budget = max(0, max_bytes - self._spool_total)
        try:
            if not self._job_bytes.over(self.directory, budget):
                return
            for removed in retention.enforce_quota(self.directory, budget, keep=keep, total=self._job_bytes.bytes,
                                                   down_to=int(budget * QUOTA_DOWN_TO)):
                logger.info("batch-debug quota: removed %s", removed.name)
        except OSError:
            logger.warning("batch-debug could not apply the disk quota", exc_info=True)
        self._job_bytes.forget()

    # -- the job file (writer thread, or the caller during shutdown) -------------
    def _secrets(self, job: OpenJob) -> tuple[str, ...]:
        return tuple(self.secrets()) + job.learned_secrets()

    def write(self, job: OpenJob, complete: bool) -> Path | None:
        """Write one job's file now; None (and logged) on failure.

        ``complete``: the job span ended (False: the process is stopping mid-job).
        """
        try:
            spans, batch = job.take_batch()
            if complete:
                spans.append(job.job_span)  # type: ignore[arg-type]
            self._spool(job, spans, batch)
            secrets = self._secrets(job)
            if job.spool is None:  # nothing was spooled (a discarded job's batches are not)
                job.spool = JobSpool(self.directory)
            job.spool.add_items(job.items.drain())
            head = build_head(
                job.job_id, job.job_span, job.spool.slim(), job.spool.items,  # type: ignore[arg-type]
                ended=complete, dropped_spans=job.dropped, dropped_records=job.dropped_records,
                debug_enabled=self._debug_enabled(), secrets=secrets, end_time_ns=time.time_ns(),
            )
            # Scrubbed again as a whole: a secret learned late must not survive in an early batch.
            path = job.spool.write_job_file(job.job_id, head, secrets)
        except OSError as exc:
            self.health.failed(self.directory, f"writing the job file for {job.job_id}", exc)
            return None
        except Exception as exc:  # noqa: BLE001 - never let a failure of ours reach the job
            logger.exception("batch-debug could not write the job file for %s", job.job_id)
            self.health.failed(self.directory, f"building the job file for {job.job_id}", exc)
            return None
        finally:
            self._close_spool(job)
        self.health.succeeded(self.directory)
        self.written[job.job_id] = path
        logger.info("batch-debug wrote %s", path)
        try:
            self._job_bytes.added(self.directory, path.stat().st_size)
        except OSError:
            self._job_bytes.forget()
        self._apply_quota(keep=path)
        return path
