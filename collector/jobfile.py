"""Job files on disk: their names, atomic writing, listing and loading.

A job file is ``job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json`` (UTC) in the debug
folder. Files are written to a temporary name in the same folder and renamed,
so a reader sees a whole file or none; temporary files left by a killed
process are removed by :func:`retention.remove_stale_temp_files`.

Every file made here (job files, the temporary files of the spool, the
progress files and the switch's state file) is created with the permission bits of
``APHRODITE_BATCH_DEBUG_FILE_MODE`` (:func:`file_mode`, default 0600) in
the ``open`` call itself, so the umask can only narrow them and nothing is
ever widened afterwards.

Job ids are validated here, once, for every caller (processor, CLI,
dashboard): ``[A-Za-z0-9._-]{1,128}`` and no ``..``, so a job id can never
name a path outside the folder.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import config

JOB_ID_PATTERN = r"[A-Za-z0-9._-]{1,128}"
_JOB_ID_RE = re.compile(rf"^{JOB_ID_PATTERN}$")
FILE_RE = re.compile(rf"^job_(?P<job_id>{JOB_ID_PATTERN})_(?P<stamp>\d{{8}}_\d{{6}})\.json$")
STAMP_FORMAT = "%Y%m%d_%H%M%S"
TEMP_PREFIX = ".job-"
TEMP_SUFFIX = ".tmp"


class JobFileError(Exception):
    """A job file that cannot be read or parsed."""


def validate_job_id(job_id: object) -> str:
    """The job id, or ValueError with a sentence saying what is allowed."""
    if not isinstance(job_id, str) or not _JOB_ID_RE.match(job_id) or ".." in job_id:
        raise ValueError(
            f"invalid job id {str(job_id)[:140]!r}: use 1 to 128 of the characters "
            "A-Z a-z 0-9 . _ - (and no '..')."
        )
    return job_id


def filename(job_id: str, when: datetime) -> str:
    return f"job_{validate_job_id(job_id)}_{when.astimezone(timezone.utc).strftime(STAMP_FORMAT)}.json"


_mode_memo: tuple[str | None, int] | None = None
#: A new file's name is never taken over from someone else, nor followed if it is a link.
_CREATE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def file_mode() -> int:
    """``config.file_mode()``, parsed once per distinct value: a bad value is logged once, not per file."""
    global _mode_memo
    raw = os.environ.get(config.APHRODITE_BATCH_DEBUG_FILE_MODE)
    memo = _mode_memo
    if memo is None or memo[0] != raw:
        memo = _mode_memo = (raw, config.file_mode())
    return memo[1]


def temp_file(directory: Path, kind: str = "job") -> tuple[int, str]:
    """A new file ``.{kind}-{pid}-*.tmp`` in the folder, open for writing: (fd, absolute path).

    The pid in the name lets a later start tell a dead writer's leftovers from
    a live one's work in progress. Created with :func:`file_mode` (like
    ``mkstemp``, it never opens an existing name or follows a link).
    """
    folder = os.path.abspath(directory)
    mode = file_mode()
    for _ in range(100):
        path = os.path.join(folder, f".{kind}-{os.getpid()}-{os.urandom(6).hex()}{TEMP_SUFFIX}")
        try:
            return os.open(path, _CREATE_FLAGS, mode), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")  # pragma: no cover - 2**48 names


def write_atomic(directory: Path, job_id: str, text: str, when: datetime | None = None) -> Path:
    """Write ``text`` as the job's file and return its path.

    If a file of that name exists (the same job id finished twice within a
    second) the time stamp moves on a second, so no file is overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        return link_into_place(directory, job_id, tmp, when or datetime.now(timezone.utc))
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def link_into_place(directory: Path, job_id: str, tmp: str, when: datetime) -> Path:
    """Give the finished temporary file ``tmp`` its job file name (the caller removes ``tmp``)."""
    for _ in range(3600):
        target = directory / filename(job_id, when)
        try:
            # link() fails if the name is taken, unlike replace(): no file is overwritten. The file keeps
            # the mode it was created with (``file_mode``): never widened here.
            os.link(tmp, target)
            return target
        except FileExistsError:
            when += timedelta(seconds=1)
    raise OSError(f"no free file name for job {job_id!r}")  # pragma: no cover - an hour of names


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


def list_job_files(directory: Path) -> list[JobFileInfo]:
    """Every job file in the folder, newest first (by the stamp in the name)."""
    found: list[JobFileInfo] = []
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        match = FILE_RE.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        try:
            size = entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
        created = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=timezone.utc)
        found.append(JobFileInfo(Path(entry.path), match["job_id"], created, size))
    found.sort(key=lambda info: (info.created_at, info.path.name), reverse=True)
    return found


def newest_for(directory: Path, job_id: str) -> Path | None:
    """The newest file of a job, or None. ``job_id`` is validated first."""
    validate_job_id(job_id)
    for info in list_job_files(directory):
        if info.job_id == job_id:
            return info.path
    return None


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def open_for_reading(path: Path) -> io.BufferedReader:
    """``path`` opened for reading if it is a regular file and not a link, else OSError.

    The checks are made on the open descriptor, so what was checked is what
    is read: a name swapped for a symlink (to ``/etc/passwd``) between the
    listing and the open is refused (``ELOOP``), not followed, and a FIFO
    swapped in cannot hold the reader (``O_NONBLOCK``).
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_error(path: Path, exc: BaseException) -> JobFileError:
    name = Path(path).name
    if isinstance(exc, FileNotFoundError):
        return JobFileError(f"job file {name} does not exist")
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return JobFileError(f"job file {name} is a symbolic link; links are not followed")
    return JobFileError(f"job file {name} is damaged or truncated: {exc}")


def load(path: Path) -> dict[str, Any]:
    """A job file's content, or JobFileError naming the file and the problem (a link is refused)."""
    try:
        with open_for_reading(path) as handle:
            data = json.loads(handle.read())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _read_error(path, exc) from exc
    if not isinstance(data, dict) or "summary" not in data:
        raise JobFileError(f"job file {Path(path).name} is not a batch-debug job file")
    return data


#: Job files are written head first; this marks where the streamed part begins.
STREAM_MARKER = b',"requests":['
_HEAD_CHUNK = 1 << 20


def load_head(path: Path) -> dict[str, Any]:
    """A job file's head (everything but ``requests`` and ``resourceSpans``), fast.

    Job files are written head first, so the summary can be read without
    parsing a file that may hold 100,000 requests. Files without the marker
    (other writers, hand edits) are loaded whole. Errors as :func:`load`.
    """
    try:
        with open_for_reading(path) as handle:
            buffer = b""
            while True:
                chunk = handle.read(_HEAD_CHUNK)
                if not chunk:
                    break
                scan_from = max(0, len(buffer) - len(STREAM_MARKER))
                buffer += chunk
                at = buffer.find(STREAM_MARKER, scan_from)
                if at != -1:
                    data = json.loads(buffer[:at] + b"}")
                    if isinstance(data, dict) and "summary" in data:
                        return data
                    break
    except OSError as exc:
        raise _read_error(path, exc) from exc
    except ValueError:
        pass  # fall back to the whole file, which gives the precise error
    data = load(path)
    data.pop("requests", None)
    data.pop("resourceSpans", None)
    return data
