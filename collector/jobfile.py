"""Job files on disk: their names, atomic writing and loading (listing: ``job_listing``, re-exported here).

A job file is ``job_{JOB_ID}_{YYYYmmdd_HHMMSS}.json`` (UTC) in the debug
folder. Files are written through :mod:`atomic` (a temporary name in the same
folder, fsynced, then linked to a name no file has yet), so a reader sees a
whole file or none; temporary files left by a killed process are removed by
:func:`retention.remove_stale_temp_files`.

Every file in the folder (job files, the temporary files of the spool, the
progress files and the switch's state file) is created by :mod:`atomic` with
the permission bits of ``APHRODITE_BATCH_DEBUG_FILE_MODE``
(:func:`atomic.file_mode`, default 0600) in the ``open`` call itself, so the
umask can only narrow them and nothing is ever widened afterwards.

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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from . import atomic
from .atomic import TEMP_SUFFIX as TEMP_SUFFIX  # the names retention looks for
# Names and listing (``job_listing``), here for every caller of ``jobfile``:
from .job_listing import (FILE_RE as FILE_RE, JOB_ID_PATTERN as JOB_ID_PATTERN, STAMP_FORMAT as STAMP_FORMAT,
                          JobFileInfo as JobFileInfo, JobFiles as JobFiles, job_files as job_files,
                          job_files_bytes as job_files_bytes, list_job_files as list_job_files, newest_path,
                          stamp_time as stamp_time)

_JOB_ID_RE = re.compile(rf"^{JOB_ID_PATTERN}$")
TEMP_PREFIX = ".job-"


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


def write_atomic(directory: Path, job_id: str, text: str, when: datetime | None = None) -> Path:
    """Write ``text`` as the job's file and return its path.

    If a file of that name exists (the same job id finished twice within a
    second) the time stamp moves on a second, so no file is overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = when or datetime.now(timezone.utc)
    return atomic.write_then(directory, text, lambda tmp: link_into_place(directory, job_id, tmp, stamp))


def link_into_place(directory: Path, job_id: str, tmp: str, when: datetime) -> Path:
    """Give the finished temporary file ``tmp`` its job file name (``atomic.write_then`` removes ``tmp``)."""
    for _ in range(3600):
        target = directory / filename(job_id, when)
        try:
            # link() fails if the name is taken, unlike replace(): no file is overwritten. The file keeps
            # the mode it was created with (``atomic.file_mode``): never widened here.
            os.link(tmp, target)
            return target
        except FileExistsError:
            when += timedelta(seconds=1)
    raise OSError(f"no free file name for job {job_id!r}")  # pragma: no cover - an hour of names


def newest_for(directory: Path, job_id: str) -> Path | None:
    """The newest file of a job, or None. ``job_id`` is validated first."""
    return newest_path(directory, validate_job_id(job_id))


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


def read_error(path: Path, exc: BaseException) -> JobFileError:
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
        raise read_error(path, exc) from exc
    if not isinstance(data, dict) or "summary" not in data:
        raise JobFileError(f"job file {Path(path).name} is not a batch-debug job file")
    return data


#: Job files are written head first; this marks where the streamed part begins.
STREAM_MARKER = b',"requests":['
HEAD_CHUNK = 1 << 20


def scan_head(handle: BinaryIO, *, items: bool = True) -> Any:
    """The head of the open job file ``handle``, parsed: the document up to the
    streamed part (``STREAM_MARKER``), closed with ``}`` (without its item
    records when ``items`` is false: :func:`parse_head`). ``None`` when the file
    has no marker; ``ValueError`` when the head does not parse (another layout:
    the whole file decides). Reads from the current offset, in 1 MiB chunks."""
    split = split_head(handle)
    return None if split is None else parse_head(split[0], items=items)


#: Where the head's item records begin. From format 3 on they are the head's last key (``document``).
ITEMS_KEY = b',"items":['
#: The first format whose head ends with its items (``document.FORMAT_VERSION``).
ITEMS_LAST_SINCE = 3


def parse_head(head: bytes, *, items: bool = True) -> Any:
    """A head's bytes (the document up to ``STREAM_MARKER``) parsed, closed with ``}``.

    ``items=False``: the same head without ``items``. In a head of format 3 or
    later the items are the last key, so the bytes before ``,"items":[`` closed
    with ``}`` are the rest of the head, and the items are never parsed. That
    text parses only where the key sits at the top level (a nested one leaves
    an object open); a head that does not, or is of an older format, is parsed
    whole and its items dropped. ``ValueError`` when the head does not parse.
    """
    if not items:
        cut = head.rfind(ITEMS_KEY)
        if cut != -1:
            try:
                found = json.loads(head[:cut] + b"}")
            except ValueError:
                found = None
            version = found.get("format_version") if isinstance(found, dict) else None
            if type(version) is int and version >= ITEMS_LAST_SINCE:
                return found
    data = json.loads(head + b"}")
    if not items and isinstance(data, dict):
        data.pop("items", None)
    return data


def split_head(handle: BinaryIO) -> tuple[bytes, bytes] | None:
    """(the head's bytes, the bytes read past the marker), or None without a marker."""
    # A bytearray grows in place; bytes concatenated chunk by chunk copied a 70 MB head 35 times over.
    buffer = bytearray()
    while True:
        chunk = handle.read(HEAD_CHUNK)
        if not chunk:
            return None
        scan_from = max(0, len(buffer) - len(STREAM_MARKER))
        buffer += chunk
        at = buffer.find(STREAM_MARKER, scan_from)
        if at != -1:
            with memoryview(buffer) as view:  # one copy of each part, not two
                return bytes(view[:at]), bytes(view[at + len(STREAM_MARKER):])


def load_head(path: Path, *, items: bool = True) -> dict[str, Any]:
    """A job file's head (everything but ``requests`` and ``resourceSpans``), fast.

    Job files are written head first, so the summary can be read without
    parsing a file that may hold 100,000 requests. ``items=False`` leaves the
    head's item records out too (a 1M-request job's head is 70 MB of them, and
    the summary, the page's timeline and the job list never read them: see
    :func:`parse_head`). Files without the marker (other writers, hand edits)
    are loaded whole. Errors as :func:`load`.
    """
    try:
        with open_for_reading(path) as handle:
            data = scan_head(handle, items=items)
            if isinstance(data, dict) and "summary" in data:
                return data
    except OSError as exc:
        raise read_error(path, exc) from exc
    except ValueError:
        pass  # fall back to the whole file, which gives the precise error
    data = load(path)
    data.pop("requests", None)
    data.pop("resourceSpans", None)
    if not items:
        data.pop("items", None)
    return data
