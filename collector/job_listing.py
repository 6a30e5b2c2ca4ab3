"""Which job files a folder holds, newest first: found by their names, remembered while the folder is unchanged.

Usage (``jobfile`` re-exports these; callers write ``jobfile.list_job_files``)::

    files = job_files(folder)        # a sequence: len() and slices, each file's size read when asked for
    files[:20]                        # JobFileInfo of the 20 newest
    list_job_files(folder)            # every file with its size (cleanup, the CLI)
    newest_path(folder, "posters")    # no size read at all
    job_files_bytes(folder)           # what they take (the quota), remembering nothing

A job file is ``job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json`` (UTC). The dashboard
lists the folder at every poll, and a folder under the default quota can hold
30,000 files of small jobs: reading every file's size and date took 350 ms a
call there. So a listing is made of names only (``os.scandir`` says which
are regular files without a system call each), sorted by stamp and name;
a file's size is read when its :class:`JobFileInfo` is first asked for.

A folder's names are remembered with its change time (``st_mtime_ns``,
which every file created, linked, renamed or removed in it moves). The list
is reused only while that time is the same and at least
:data:`SETTLED_SECONDS` old: a file system's clock ticks coarsely, and a
change in the same tick as the last one would leave the time as it was.
Each name is parsed once while it stays in the folder; sizes are read anew
for each listing (a file rewritten in place keeps its name and the folder's
time). The names are kept in the process that lists (about 160 bytes a file:
the dashboard's); the quota, which runs in the batch job's own process,
lists with ``remember=False``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, overload

JOB_ID_PATTERN = r"[A-Za-z0-9._-]{1,128}"
#: ASCII digits only: ``\d`` would take other scripts' digits too, which ``int`` reads and no name we write has.
FILE_RE = re.compile(rf"^job_(?P<job_id>{JOB_ID_PATTERN})_(?P<stamp>[0-9]{{8}}_[0-9]{{6}})\.json$")
STAMP_FORMAT = "%Y%m%d_%H%M%S"
#: How long a folder must have stayed unchanged before its remembered names are used (see the module doc).
SETTLED_SECONDS = 2.0
#: Folders whose names are remembered (the dashboard's, a test's, the CLI's): the oldest is forgotten first.
_FOLDERS = 16

@dataclass(frozen=True)
class JobFileInfo:
    """One job file as found in the folder (no parsing of its content)."""

    path: Path
    job_id: str
    created_at: datetime
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.path.name,
            "job_id": self.job_id,
            "created_at": self.created_at.isoformat(),
            "size_bytes": self.size_bytes,
        }


def stamp_time(stamp: str) -> datetime:
    """A file name's ``YYYYmmdd_HHMMSS`` (:data:`STAMP_FORMAT`) as UTC; ValueError when it is no date.

    Read by position: ``strptime`` took six times as long, and a listing reads every new name.
    """
    return datetime(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]),
                    int(stamp[13:15]), tzinfo=timezone.utc)


# A job file's name is job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json: its stamp and job id are slices of it.
def _stamp(name: str) -> str:
    return name[-20:-5]


def _job_id(name: str) -> str:
    return name[4:-21]


def _newest_first(name: str) -> tuple[str, str]:
    return name[-20:-5], name


class _Known:
    """A folder's job files' names as last listed (newest first, and as a set), and the folder's identity and
    change time then."""

    __slots__ = ("key", "valid", "newest_first")

    def __init__(self, key: tuple[int, int, int], valid: set[str], newest_first: list[str]) -> None:
        self.key, self.valid, self.newest_first = key, valid, newest_first


_known: dict[str, _Known] = {}
_lock = threading.Lock()


def _names(directory: Path, remember: bool = True) -> list[str]:
    """The folder's job files' names, newest first. With ``remember``, reused and kept as the module doc says
    (about 160 bytes a file: the dashboard's); without, made anew and not kept (a worker's quota, whose
    process is the batch job's). Never change the list."""
    try:
        folder = os.stat(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    key = (folder.st_dev, folder.st_ino, folder.st_mtime_ns)
    where = os.path.abspath(directory)
    known = None
    if remember:
        with _lock:
            known = _known.get(where)
        if known is not None and known.key == key and time.time_ns() - key[2] >= SETTLED_SECONDS * 1e9:
            return known.newest_first
    before: set[str] | frozenset[str] = known.valid if known is not None else frozenset()
    valid: set[str] = set()
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if (name in before or _is_job_file_name(name)) and entry.is_file(follow_symlinks=False):
                    valid.add(name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    newest_first = _reordered(known, valid) if known is not None else sorted(valid, key=_newest_first, reverse=True)
    if remember:
        with _lock:
            _known.pop(where, None)
            _known[where] = _Known(key, valid, newest_first)
            while len(_known) > _FOLDERS:
                del _known[next(iter(_known))]
    return newest_first


def _reordered(known: _Known, valid: set[str]) -> list[str]:
    """``valid`` newest first, from the last listing's order: the names gone left out, the new ones sorted and
    put first when all are newer than the rest (as a new job file's stamp is), else all sorted again. Sorting
    30,000 names took as long as reading the folder."""
    added = sorted(valid - known.valid, key=_newest_first, reverse=True)
    kept = known.newest_first
    if len(known.valid) != len(valid) - len(added):  # some went
        kept = [name for name in kept if name in valid]
    if added and kept and _newest_first(added[-1]) < _newest_first(kept[0]):
        return sorted(valid, key=_newest_first, reverse=True)  # a new name older than a kept one
    return added + kept if added else kept


def _is_job_file_name(name: str) -> bool:
    match = FILE_RE.match(name)
    if match is None:
        return False
    try:
        stamp_time(match["stamp"])
    except ValueError:
        return False  # a name shaped like ours with no date in it (month 13): not a file we wrote
    return True


class JobFiles(Sequence[JobFileInfo]):
    """A folder's job files, newest first; each file's size is read when its info is first asked for (a
    file removed since the listing reads as 0 bytes)."""

    def __init__(self, directory: Path, names: list[str]) -> None:
        self._directory = directory
        self._names = names
        self._infos: dict[int, JobFileInfo] = {}

    def __len__(self) -> int:
        return len(self._names)

    @overload
    def __getitem__(self, index: int) -> JobFileInfo: ...
    @overload
    def __getitem__(self, index: slice) -> list[JobFileInfo]: ...
    def __getitem__(self, index: int | slice) -> JobFileInfo | list[JobFileInfo]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._names)))]
        if index < 0:
            index += len(self._names)
        found = self._infos.get(index)
        if found is None:
            name = self._names[index]  # IndexError past the end, as a list's
            path = Path(self._directory, name)
            try:
                size = os.stat(path, follow_symlinks=False).st_size
            except OSError:
                size = 0
            found = self._infos[index] = JobFileInfo(path, _job_id(name), stamp_time(_stamp(name)), size)
        return found

    def __iter__(self) -> Iterator[JobFileInfo]:
        return (self[i] for i in range(len(self._names)))


def job_files(directory: Path, *, remember: bool = True) -> JobFiles:
    """The folder's job files, newest first (by the stamp in the name, then the name); ``remember``: see
    :func:`_names`."""
    return JobFiles(Path(directory), _names(directory, remember))


def list_job_files(directory: Path) -> list[JobFileInfo]:
    """Every job file in the folder with its size, newest first; a file gone before its size was read is left
    out."""
    found = []
    for name in _names(directory):
        path = Path(directory, name)
        try:
            size = os.stat(path, follow_symlinks=False).st_size
        except OSError:
            continue
        found.append(JobFileInfo(path, _job_id(name), stamp_time(_stamp(name)), size))
    return found


def newest_path(directory: Path, job_id: str) -> Path | None:
    """The newest file of ``job_id`` (already validated), or None; no file's size is read."""
    for name in _names(directory):
        if _job_id(name) == job_id:
            return Path(directory, name)
    return None


def job_files_bytes(directory: Path) -> int:
    """What the job files in the folder take: the quota's count, made in the worker's process every few
    seconds, so in one pass of the folder that keeps nothing (30,000 files: about 0.1 s). The files counted
    are the ones a listing shows: a name like a job file's with no date in it (month 13) is no file we wrote,
    and a quota that counted it could never delete it."""
    total = 0
    try:
        entries = os.scandir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    with entries:
        for entry in entries:
            if _is_job_file_name(entry.name) and entry.is_file(follow_symlinks=False):
                try:
                    total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
    return total
