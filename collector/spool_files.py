"""Bytes into and out of the spool's files, and the job file made from them.

``append`` adds a batch to a spool file and never leaves half of one;
``copy_into`` puts a spool file's bytes behind others (the kernel copies,
unless secrets must be replaced on the way); ``around_spans`` makes the job
file out of the spans' own spool file where the file system can insert room
at its start (``insert_range``). The job file's layout is the head without
its closing brace, ``,"requests":[``, the records, ``],"resourceSpans":[``,
the span groups, ``]}``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from . import insert_range
from .redact import REDACTED

#: Spans' spool files from this size on are built around (:func:`around_spans`); smaller ones are copied. The room
#: is rounded up to a block with spaces, up to 4 KB more in the file: nothing in a big job, a lot in a small one,
#: whose copy costs little anyway.
AROUND_MIN_BYTES = 16 << 20
#: Before the records, between them and the span groups, and after those.
REQUESTS = b',"requests":['
BETWEEN = b'],"resourceSpans":['
END = b"]}"
_REDACTED = REDACTED.encode("ascii")


def append(path: str, data: bytes) -> None:
    """Append ``data`` to the spool file at ``path`` and close it again (never through a link)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        start = os.fstat(fd).st_size
        try:
            write_all(fd, data)
        except OSError:
            # Half a batch would break the JSON of every later one: the file goes back to its last whole batch.
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def around_spans(spans_path: str, records_path: str, head_path: str, place: Callable[[str], Path]) -> Path | None:
    """The job file made of the spans' spool file: room inserted at its start for the head (the file at
    ``head_path``: the head's JSON object without its closing brace), the records and the text between
    (``insert_range``), the end appended, then ``place(spans_path)``.

    None, with the spool file unchanged, for a file smaller than :data:`AROUND_MIN_BYTES` or where
    the file system cannot insert room (the caller copies instead). Once it has, the spool file is the
    job file's temporary file: a failure after that is raised, and ``spool.JobSpool.close`` removes it
    like any other.
    """
    records_size = os.path.getsize(records_path)
    fd = os.open(spans_path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if os.fstat(fd).st_size < max(1, AROUND_MIN_BYTES):
            return None
        size = os.path.getsize(head_path) + len(REQUESTS) + records_size + len(BETWEEN)
        room = insert_range.room_for(fd, size)
        try:
            insert_range.insert_at_start(fd, room)
        except OSError:
            return None
        write_head(fd, head_path)  # the descriptor's offset is 0: the room is written front to back
        copy_into(records_path, fd)
        # The rest of the room is spaces, which JSON allows between "[" and the first span group.
        write_all(fd, BETWEEN + b" " * (room - size))
        os.lseek(fd, 0, os.SEEK_END)
        write_all(fd, END)
        os.fsync(fd)
    finally:
        os.close(fd)
    return place(spans_path)


def write_head(fd: int, head_path: str) -> None:
    """The head (the file at ``head_path``: its JSON without the closing brace), then the opening of the
    requests."""
    copy_into(head_path, fd)
    write_all(fd, REQUESTS)


def copy_into(path: str, fd: int, secrets: Sequence[str] = (), chunk: int = 1 << 20) -> None:
    """Append the file at ``path`` to the descriptor ``fd`` (at its offset), each of ``secrets`` replaced.

    The secrets must be literal (``redact.is_literal_secret``): ASCII, so replacing their bytes is
    replacing their text, and one split by a chunk border is found whole in the next round. Without
    secrets the kernel copies (``os.sendfile``, else a plain read-and-write loop).
    """
    with open(path, "rb") as src:
        if not secrets:
            _copy_plain(src.fileno(), fd, chunk)
            return
        needles = [s.encode("ascii") for s in secrets]
        keep = max(map(len, needles)) - 1
        carry = b""
        while True:
            block = src.read(chunk)
            data = carry + block
            for needle in needles:
                data = data.replace(needle, _REDACTED)
            if not block:
                write_all(fd, data)
                return
            # The tail may hold the start of a secret cut by the block border: it goes round again.
            cut = max(0, len(data) - keep)
            write_all(fd, data[:cut])
            carry = data[cut:]


def _copy_plain(src: int, dst: int, chunk: int) -> None:
    # sendfile copies inside the kernel, from the page cache: no byte passes through Python. Both
    # offsets are the descriptors' own, so the loop taking over part way through goes on from there.
    try:
        while os.sendfile(dst, src, None, 1 << 30):
            pass
        return
    except (AttributeError, OSError):
        pass  # not on this platform or between these files
    while block := os.read(src, chunk):
        write_all(dst, block)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` at the descriptor's offset (``os.write`` may take part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
