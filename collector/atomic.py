"""Atomic file writes: the one way this package puts a whole file in place.

Usage::

    atomic.replace(folder / "state.json", json.dumps(payload), kind="state")       # overwrite
    atomic.write_then(folder, write_body, lambda tmp: os.link(tmp, target))       # never overwrite
    fd, path = atomic.temp_file(folder, "job")                                     # spool files

Contract of every write here: the content goes to a new temporary file
``.{kind}-{pid}-{random}.tmp`` in the target's own folder (so the rename
cannot cross file systems), created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` (no
existing name is opened, no link followed) and the permission bits of
``APHRODITE_BATCH_DEBUG_FILE_MODE`` (:func:`file_mode`) unless the caller
names others; it is flushed and fsynced, then put in place; the temporary
file is removed whatever happens, also when writing, the fsync or the rename
fails. A reader therefore sees the old file or the new one, never half of
one. A file that only lives while its process does (a job's live progress)
may skip the fsync (``durable=False``): readers still never see half of it;
only a machine crash could leave it empty, and such a file is of a process
the crash ended anyway. The fsync was a job's most expensive step there, a
millisecond of waiting on the disk for each progress report. The pid in the name (:func:`temp_pid`) lets a later start tell a dead
writer's leftovers from a live one's work in progress
(``retention.remove_stale_temp_files``).

Folders opened by descriptor (``dir_fd``, the health reports) are supported
so that a folder checked once is the folder written to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeAlias, TypeVar

from . import config

T = TypeVar("T")
#: What a file gets: its text, or a function that writes it to the open handle.
Content: TypeAlias = str | Callable[[TextIO], object]

TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"^\.[a-z]+-(\d+)-[0-9a-f]+\.tmp$")
#: A new file's name is never taken over from someone else, nor followed if it is a link.
_CREATE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_mode_memo: tuple[str | None, int] | None = None


def file_mode() -> int:
    """``config.file_mode()``, parsed once per distinct value: a bad value is logged once, not per file."""
    global _mode_memo
    raw = os.environ.get(config.APHRODITE_BATCH_DEBUG_FILE_MODE)
    memo = _mode_memo
    if memo is None or memo[0] != raw:
        memo = _mode_memo = (raw, config.file_mode())
    return memo[1]


def temp_pid(name: str) -> int | None:
    """The writer's pid in a temporary file name made by :func:`temp_file`, else None."""
    match = _TEMP_NAME.match(name)
    return int(match.group(1)) if match else None


def temp_file(directory: Path | str, kind: str = "job", *, mode: int | None = None,
              dir_fd: int | None = None) -> tuple[int, str]:
    """A new file ``.{kind}-{pid}-*.tmp`` in the folder, open for writing: (fd, path).

    The path is absolute, or (with ``dir_fd``) a name in that folder.
    Created with ``mode`` or :func:`file_mode` (like ``mkstemp``, it never
    opens an existing name or follows a link).
    """
    folder = "" if dir_fd is not None else os.path.abspath(directory)
    bits = file_mode() if mode is None else mode
    for _ in range(100):
        path = os.path.join(folder, f".{kind}-{os.getpid()}-{os.urandom(6).hex()}{TEMP_SUFFIX}")
        try:
            return os.open(path, _CREATE_FLAGS, bits, dir_fd=dir_fd), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {directory}")  # pragma: no cover - 2**48 names


def write_then(directory: Path | str, content: Content, place: Callable[[str], T], *, kind: str = "job",
               mode: int | None = None, dir_fd: int | None = None, durable: bool = True) -> T:
    """Write ``content`` to a new temporary file in ``directory``, fsync it (unless not ``durable``: see the
    module doc), and return ``place(tmp)``.

    ``place`` gives the finished file its name (``os.replace`` to overwrite,
    ``os.link`` to refuse an existing name). The temporary file is removed
    afterwards in every case: after a rename it is already gone, after a
    link its second name goes, after a failure anywhere the partial file
    goes. Errors are raised, not logged: each caller decides what a failed
    write means.
    """
    fd, tmp = temp_file(directory, kind, mode=mode, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if isinstance(content, str):
                handle.write(content)
            else:
                content(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        return place(tmp)
    finally:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass


def replace(target: Path | str, content: Content, *, kind: str, mode: int | None = None,
            dir_fd: int | None = None, durable: bool = True) -> None:
    """Write ``content`` as ``target``, replacing any file of that name atomically (see the module doc).

    With ``dir_fd``, ``target`` is a name in that folder. ``rename`` replaces
    whatever has the name, a planted link included, and never writes through it.
    """
    if dir_fd is not None:
        write_then("", content, lambda tmp: os.replace(tmp, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd),
                   kind=kind, mode=mode, dir_fd=dir_fd, durable=durable)
    else:
        write_then(os.path.dirname(os.path.abspath(target)), content, lambda tmp: os.replace(tmp, target),
                   kind=kind, mode=mode, durable=durable)
