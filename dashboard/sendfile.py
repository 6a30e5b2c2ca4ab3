"""A job file opened for download: once, by descriptor, never through a link.

Usage::

    job = open_job_file(directory, path)    # OSError if it is not a plain file of the folder
    try:
        check_job_document(job)             # JobFileError if damaged
    except JobFileError:
        job.file.close()
        raise
    return send_job_file(job)               # the response closes the file once sent

Why: checking "is a regular file" and then opening the path again leaves a
window in which the name can be swapped for a symlink to ``/etc/passwd``.
Here the folder is opened first, the file is opened relative to it with
``O_NOFOLLOW`` (a link is refused, not followed), and every check is made on
the open descriptor (``fstat``): a regular file on the folder's device. What
is checked is what is sent. ``O_NONBLOCK`` keeps a FIFO swapped in from
holding the thread in ``open``.
"""

from __future__ import annotations

import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Response, send_file

from ..collector import jobfile
from ..collector.jobfile import JobFileError

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TAIL = 64


@dataclass(frozen=True)
class OpenJobFile:
    """A job file open for reading, with its name and the size ``fstat`` gave for that descriptor."""

    file: io.FileIO
    name: str
    size: int


def open_job_file(directory: Path, path: Path) -> OpenJobFile:
    """Open ``path``, a name directly in ``directory``, or raise OSError.

    ``FileNotFoundError`` if it is gone; ``OSError`` (``ELOOP``) if it is a
    link; ``OSError`` if it is not a regular file on the folder's device.
    """
    if path.parent != directory or path.name in ("", ".", ".."):
        raise FileNotFoundError(f"{path.name} is not a file of the debug folder")
    folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        folder_dev = os.fstat(folder).st_dev
        fd = os.open(path.name, _OPEN_FLAGS, dir_fd=folder)
    finally:
        os.close(folder)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_dev != folder_dev:
            raise OSError(f"{path.name} is not a regular file of the debug folder")
        os.set_blocking(fd, True)
        return OpenJobFile(io.FileIO(fd, "r", closefd=True), path.name, st.st_size)
    except BaseException:
        os.close(fd)
        raise


def check_job_document(job: OpenJobFile) -> None:
    """JobFileError unless the open file holds a job document, as the summary route requires.

    Its head (everything before the streamed requests) must parse as an
    object with a ``summary`` object, and the file must end with ``]}``, the
    end of ``resourceSpans``, its last key in every format: a file cut short
    is damaged even if its head is whole. (A cut after any ``}`` passed the
    check this was, about one cut in fifty: a record or a span ends there.)
    Leaves the file at offset 0.
    """
    try:
        head = _head(job.file)
        job.file.seek(max(0, job.size - _TAIL))
        tail = job.file.read(_TAIL).rstrip()
    except (OSError, ValueError) as exc:
        raise JobFileError(f"job file {job.name} is damaged or truncated: {exc}") from exc
    finally:
        job.file.seek(0)
    if not isinstance(head, dict) or not isinstance(head.get("summary"), dict):
        raise JobFileError(f"job file {job.name} is not a batch-debug job file")
    if not tail.endswith(b"]}"):
        raise JobFileError(f"job file {job.name} is damaged or truncated: it does not end with ']}}' "
                           f"(the end of its resourceSpans)")


def _head(file: io.FileIO) -> Any:
    """The document without its streamed part, parsed; the whole file when the head alone does not parse."""
    try:
        head = jobfile.scan_head(file)
        if head is not None:
            return head
    except ValueError:
        pass  # another layout: the whole file decides
    file.seek(0)
    return json.loads(file.readall())


def send_job_file(job: OpenJobFile) -> Response:
    """The open file as a JSON attachment; the response closes it once sent."""
    response = send_file(job.file, mimetype="application/json", as_attachment=True, download_name=job.name,
                         max_age=0, etag=False, conditional=False)
    response.content_length = job.size
    return response
