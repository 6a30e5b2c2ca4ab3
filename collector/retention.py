"""What stays in the debug folder: the disk quota, cleanup by age, and temporary files of dead writers.

Usage::

    retention.enforce_quota(folder, max_bytes, keep=just_written)   # oldest job files go first
    counted = FolderBytes(); counted.over(folder, budget)            # the writer's check after each job
    retention.cleanup(folder, days=7)                                # (files, bytes) freed
    retention.remove_stale_temp_files(folder)                        # after a SIGKILL

Only names made by :mod:`jobfile` are ever deleted: job files, and the
temporary ``.job-<pid>-...tmp`` / ``.state-<pid>-...tmp`` files of writers
that are gone. The state file and anything else in the folder is left alone.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .jobfile import TEMP_PREFIX, TEMP_SUFFIX, job_files, job_files_bytes, list_job_files

#: The writer's pid in a temporary name (see ``jobfile.temp_file`` and the switch's state file).
_TEMP_PID = re.compile(r"^\.(?:job|state)-(\d+)-")


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(directory: Path, older_than_seconds: float = 86_400.0) -> int:
    """Delete temporary files left by killed writers; returns how many.

    A temporary file whose writer (the pid in its name) is gone is removed at
    once; one without a readable pid only when older than ``older_than_seconds``.
    """
    removed = 0
    now = datetime.now(timezone.utc).timestamp()
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        if not (entry.name.startswith((TEMP_PREFIX, ".state-")) and entry.name.endswith(TEMP_SUFFIX)):
            continue
        match = _TEMP_PID.match(entry.name)
        try:
            if match:
                pid = int(match.group(1))
                stale = pid != os.getpid() and not pid_alive(pid)
            else:
                stale = now - entry.stat().st_mtime >= older_than_seconds
            if stale:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass
    return removed


def enforce_quota(directory: Path, max_bytes: int, keep: Path | None = None, *, down_to: int | None = None,
                  total: int | None = None) -> list[Path]:
    """When the job files take more than ``max_bytes``, delete the oldest until they take at most ``down_to``
    (default ``max_bytes``); returns what went.

    ``keep`` (the file just written) is never deleted, even if it alone is larger. ``total``: what they take,
    when the caller has just counted it (:func:`jobfile.job_files_bytes`). The files are found by name and
    only those deleted have their size read.
    """
    total = job_files_bytes(directory) if total is None else total
    if total <= max_bytes:
        return []  # the usual case: nothing listed, nothing sorted
    target = max_bytes if down_to is None else min(down_to, max_bytes)
    files = job_files(directory, remember=False)
    removed = []
    for index in range(len(files) - 1, -1, -1):  # oldest first
        if total <= target:
            break
        info = files[index]  # its size read now
        if keep is not None and info.path == keep:
            continue
        try:
            os.unlink(info.path)
        except FileNotFoundError:
            pass
        total -= info.size_bytes
        removed.append(info.path)
    return removed


#: How long a :class:`FolderBytes` count is trusted, its own files added, before the folder is read again.
RECOUNT_SECONDS = 30.0


class FolderBytes:
    """What a folder's job files take, as last counted (:func:`jobfile.job_files_bytes`) plus the files
    written here since (:meth:`added`).

    The writer checks the quota after every job. Reading the folder each time cost a job 2.7 ms with
    1,000 files in it, and a folder under the default 500 MB quota can hold 30,000 files of small jobs
    (about 0.1 s to count).
    The count is read again when it is :data:`RECOUNT_SECONDS` old, is of another folder, or would be over
    the budget asked about; so other processes' files are seen within that time, and a file written here
    counts at once. Not thread-safe: the writer's thread only.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self._folder: Path | None = None
        self._bytes = 0
        self._counted_at = 0.0

    def over(self, directory: Path, budget: int) -> bool:
        """True when the job files in ``directory`` take more than ``budget`` bytes (see the class doc)."""
        now = self._clock()
        if directory != self._folder or now - self._counted_at >= RECOUNT_SECONDS or self._bytes > budget:
            self._bytes, self._folder, self._counted_at = job_files_bytes(directory), directory, now
        return self._bytes > budget

    @property
    def bytes(self) -> int:
        """The count as it stands (just made, when :meth:`over` answered True)."""
        return self._bytes

    def added(self, directory: Path, size: int) -> None:
        """A job file of ``size`` bytes was written into ``directory``."""
        if directory == self._folder:
            self._bytes += size

    def forget(self) -> None:
        """Files went (or may have): count again at the next check."""
        self._folder = None


def cleanup(directory: Path, days: int, now: datetime | None = None) -> tuple[int, int]:
    """Delete job files older than ``days`` days (0: all); (files, bytes) freed.

    Only files named like job files are touched, never the state file.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"days must be a whole number >= 0, not {days!r}.")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    deleted = freed = 0
    for info in list_job_files(directory):
        if days == 0 or info.created_at < cutoff:
            try:
                os.unlink(info.path)
            except FileNotFoundError:
                continue
            deleted += 1
            freed += info.size_bytes
    return deleted, freed
