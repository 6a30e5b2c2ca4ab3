"""Live progress of running jobs, shared with other processes.

While a recorded job runs, its process keeps a small JSON file in
``<debug folder>/.active/`` (items done / total, requests and failures so
far, pid, updated_at), rewritten atomically at most every
``INTERVAL_SECONDS`` and removed when the job ends. The dashboard reads the
folder with :func:`read_active`; entries whose process is gone, or that were
not refreshed for ``STALE_SECONDS``, are ignored (and removed).

A progress file is named only from a valid job id
(``jobfile.validate_job_id``), so it can never land outside ``.active/``;
for any other id nothing is written. It is created with the mode of
``APHRODITE_BATCH_DEBUG_FILE_MODE`` like every other file in the folder.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import atomic
from .jobfile import validate_job_id
from .retention import pid_alive

logger = logging.getLogger(__name__)

ACTIVE_DIRNAME = ".active"
INTERVAL_SECONDS = 1.0
STALE_SECONDS = 30.0


class JobProgress:
    """Counters of one running job; updated from span callbacks, cheap."""

    __slots__ = ("job_id", "items_total", "items_done", "items_failed", "requests", "failed_requests",
                 "started_at", "_next_write")

    def __init__(self, job_id: str, items_total: int | None) -> None:
        self.job_id = job_id
        self.items_total = items_total
        self.items_done = self.items_failed = self.requests = self.failed_requests = 0
        self.started_at = datetime.now(timezone.utc).isoformat()
        self._next_write = 0.0

    def due(self) -> bool:
        """True at most once per interval: time to publish."""
        now = time.monotonic()
        if now >= self._next_write:
            self._next_write = now + INTERVAL_SECONDS
            return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated_at": datetime.now(timezone.utc).isoformat(),
            "items_total": self.items_total,
            "items_done": self.items_done,
            "items_failed": self.items_failed,
            "requests": self.requests,
            "failed_requests": self.failed_requests,
        }


def _path(directory: Path, job_id: str) -> Path:
    """The job's progress file; ValueError for a job id that could name a path outside the folder."""
    return Path(directory) / ACTIVE_DIRNAME / f"{validate_job_id(job_id)}.{os.getpid()}.json"


def publish(directory: Path, progress: JobProgress) -> None:
    """Write the job's progress file atomically; errors are logged, not raised."""
    try:
        target = _path(directory, progress.job_id)
    except ValueError as exc:
        logger.warning("batch-debug publishes no progress for this job: %s", exc)
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Not fsynced: the file lives only while its job runs (``read_active`` drops a dead writer's).
        atomic.replace(target, json.dumps(progress.to_dict()), kind="progress", durable=False)
    except OSError:
        # Reported once by the writer's health check; every second here would flood the log.
        logger.debug("batch-debug could not publish progress of %s", progress.job_id, exc_info=True)


def retire(directory: Path, job_id: str) -> None:
    """Remove the job's progress file (the job ended)."""
    try:
        os.unlink(_path(directory, job_id))
    except (OSError, ValueError):
        pass


def read_active(directory: Path) -> list[dict[str, Any]]:
    """Progress of every job running now, in any process sharing the folder."""
    folder = Path(directory) / ACTIVE_DIRNAME
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    now = time.time()
    active = []
    for entry in entries:
        if not entry.name.endswith(".json") or entry.name.startswith("."):
            continue
        try:
            old = now - entry.stat().st_mtime > STALE_SECONDS
        except OSError:
            continue
        try:
            data = json.loads(Path(entry.path).read_text(encoding="utf-8"))
            stale = old or not pid_alive(int(data["pid"]))
        except OSError:
            continue
        except (ValueError, KeyError, TypeError):
            # Not a progress report: a machine crash can leave one empty (``publish`` does not fsync).
            data, stale = {}, old
            if not stale:
                continue
        if stale:
            try:
                os.unlink(entry.path)
            except OSError:
                pass
            continue
        active.append(data)
    active.sort(key=lambda d: str(d.get("started_at")))
    return active
