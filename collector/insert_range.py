"""Make room at the start of a file without rewriting the rest: Linux's ``FALLOC_FL_INSERT_RANGE``.

A job file is its head, the request records, then the spans, and the spans
are most of it (1.4 of the 1.85 GB of a million-request job). The spool
writes them to a file of their own while the job runs; at the end, instead
of copying them behind the head (a second 1.4 GB of page cache to fill and
write back), :func:`insert_at_start` shifts them along inside the file
system, and the head and the records are written into the room it made.

ext4 and XFS support it on Linux; elsewhere (tmpfs, overlayfs, other
systems) it raises ``OSError`` and the caller copies instead. The room must
be a multiple of the file system's block size (:func:`room_for`), and the
file must not be empty.
"""

from __future__ import annotations

import ctypes
import errno
import os
import tempfile
from collections.abc import Callable

#: From linux/falloc.h.
FALLOC_FL_INSERT_RANGE = 0x20

_fallocate: Callable[[int, int, int, int], int] | None = None
_looked = False


def _libc_fallocate() -> Callable[[int, int, int, int], int] | None:
    global _fallocate, _looked
    if not _looked:
        _looked = True
        try:
            function = ctypes.CDLL(None, use_errno=True).fallocate
        except (AttributeError, OSError, TypeError):
            return None  # no fallocate in this C library, or no C library to load this way (Windows)
        function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        function.restype = ctypes.c_int
        _fallocate = function
    return _fallocate


def room_for(fd: int, size: int) -> int:
    """``size`` rounded up to the file system's block size (what :func:`insert_at_start` accepts)."""
    block = os.fstat(fd).st_blksize or 4096
    return -(-size // block) * block


def insert_at_start(fd: int, length: int) -> None:
    """Shift the whole content of the file open as ``fd`` by ``length`` bytes, leaving a hole of that
    size at its start (it reads as zero bytes until written). ``length`` must come from :func:`room_for`.

    Raises ``OSError``: ``EOPNOTSUPP`` where the file system or the platform cannot, ``EINVAL`` for an
    empty file or a length it does not accept. The file is unchanged then.
    """
    function = _libc_fallocate()
    if function is None:
        raise OSError(errno.EOPNOTSUPP, "fallocate is not available here")
    if function(fd, FALLOC_FL_INSERT_RANGE, 0, length) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def works_in(directory: str | os.PathLike[str]) -> bool:
    """Whether :func:`insert_at_start` works for files in ``directory`` (tried on a scratch file there)."""
    fd, path = tempfile.mkstemp(dir=directory, prefix=".insert-probe-")
    try:
        os.write(fd, b" " * 8192)
        insert_at_start(fd, room_for(fd, 1))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(path)
