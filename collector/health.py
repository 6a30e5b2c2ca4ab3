"""Failures of the job-file writer and of OTLP export, visible to other processes.

When the debug folder is unwritable or full, or the OTLP receiver is down,
the batch job goes on and the failure must still reach the operator
(``/status``, ``batch-debug status``). The folder itself cannot hold that
news, so each process keeps a small report per kind of failure outside it,
in a folder private to the user: ``$XDG_RUNTIME_DIR/batch-debug`` when that
is set and private, else ``<tmp>/batch-debug-<uid>``; inside it one folder
per debug folder (a hash of its path) holds ``<pid>.json`` for write
failures and ``<pid>.export.json`` for export failures. :func:`read_reports`
returns the reports of one kind from live processes for a debug folder.

Only processes of the same user see each other's reports. The folders are
made 0700 and checked each time before use, through a descriptor opened
without following links: owned by this user, no group or other permission
bits. A folder that fails the check (another local user made it first, or
it is open to others) is refused with one warning: no report is written
to it or read from it, and write failures are then only logged. Reports
are written by ``atomic.replace`` in the checked folder's descriptor (a
fresh temporary name made with ``O_CREAT|O_EXCL|O_NOFOLLOW``, renamed into
place), and read with ``O_NOFOLLOW``, so a planted link is never written
through or read from.

:class:`WriteHealth` also decides what is logged: the first failure of a
streak with its traceback, later ones only counted, and the recovery once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import atomic
from .retention import pid_alive

logger = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_MAX_REPORT_BYTES = 64 * 1024
_refused: set[str] = set()
_refused_lock = threading.Lock()


class _Unsafe(Exception):
    """A report folder this process must not use."""


def _private(st: os.stat_result) -> bool:
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def report_root() -> Path:
    """The user's private folder for health reports (see the module doc)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        try:
            if _private(os.stat(runtime)):
                return Path(runtime) / "batch-debug"
        except OSError:
            pass
    return Path(tempfile.gettempdir()) / f"batch-debug-{os.getuid()}"


def _open_private(name: str, dir_fd: int | None, create: bool) -> int:
    """A descriptor of the folder ``name`` (in ``dir_fd``), made 0700 if missing; _Unsafe if not ours alone."""
    if create:
        try:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        except FileExistsError:
            pass
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:  # a link (ELOOP) or no folder (ENOTDIR) where ours should be
        raise _Unsafe(f"it is not a folder ({exc.strerror})") from exc
    st = os.fstat(fd)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        os.close(fd)
        raise _Unsafe(f"it belongs to uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}, "
                      f"not to uid {os.getuid()} alone")
    return fd


def _report_dir_fd(directory: Path, create: bool) -> int | None:
    """A descriptor of the checked report folder for ``directory``; None when missing or refused."""
    key = hashlib.sha1(str(Path(directory).resolve()).encode()).hexdigest()[:16]
    root = report_root()
    where = root
    try:
        root_fd = _open_private(str(root), None, create)
        try:
            where = root / key
            return _open_private(key, root_fd, create)
        finally:
            os.close(root_fd)
    except FileNotFoundError:
        return None
    except _Unsafe as exc:
        with _refused_lock:
            first = str(where) not in _refused
            _refused.add(str(where))
        if first:
            logger.warning("batch-debug does not use %s for health reports: %s; failures are only logged "
                           "(remove it, or set XDG_RUNTIME_DIR to a private folder)", where, exc)
        return None
    except OSError:
        logger.debug("batch-debug cannot open the health report folder %s", where, exc_info=True)
        return None


def _pid_of(name: str) -> int | None:
    head = name.lstrip(".").split(".", 1)[0]
    return int(head) if head.isdigit() else None


WRITE = "write"
EXPORT = "export"
_CONSEQUENCE = {
    WRITE: "job files are lost until this is fixed",
    EXPORT: "spans do not reach the OTLP receiver until this is fixed (job files are still written)",
}


class WriteHealth:
    """Counts failures of one kind (``"write"`` or ``"export"``) for one process and one debug folder."""

    def __init__(self, kind: str = WRITE) -> None:
        if kind not in _CONSEQUENCE:
            raise ValueError(f"kind must be one of {', '.join(_CONSEQUENCE)}, not {kind!r}.")
        self.kind = kind
        self.errors = 0
        self.last_error: str | None = None
        self.failing = False
        self._lock = threading.Lock()

    def failed(self, directory: Path, what: str, exc: BaseException) -> None:
        """Record a failure; logs with traceback only at the start of a streak."""
        message = f"{what}: {type(exc).__name__}: {exc}"
        with self._lock:
            self.errors += 1
            self.last_error = message
            first = not self.failing
            self.failing = True
        if first:
            if self.kind == WRITE:
                logger.error("batch-debug cannot write to %s (%s); the batch job goes on, %s",
                             directory, message, _CONSEQUENCE[self.kind], exc_info=exc)
            else:
                logger.error("batch-debug: %s; the batch job goes on, %s", message, _CONSEQUENCE[self.kind])
        else:
            logger.debug("batch-debug %s failure again: %s", self.kind, message)
        self._report(directory)

    def succeeded(self, directory: Path) -> None:
        if self.failing:
            with self._lock:
                self.failing = False
            logger.warning("batch-debug %s works again for %s (%d failures before)", self.kind, directory,
                           self.errors)
            self._report(directory)

    def _report(self, directory: Path) -> None:
        folder = _report_dir_fd(directory, create=True)
        if folder is None:
            return
        name = f"{os.getpid()}" if self.kind == WRITE else f"{os.getpid()}.{self.kind}"
        text = json.dumps({
            "pid": os.getpid(), "kind": self.kind, "directory": str(directory), "errors": self.errors,
            "failing": self.failing, "last_error": self.last_error,
            "updated_at": datetime.now(timezone.utc).isoformat(),
        })
        try:
            # 0600, not APHRODITE_BATCH_DEBUG_FILE_MODE: reports are private to the user (see the module doc).
            atomic.replace(f"{name}.json", text, kind="health", mode=0o600, dir_fd=folder)
        except OSError:
            logger.debug("could not write the health report for %s", directory, exc_info=True)
        finally:
            os.close(folder)


def _unlink(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def _read(name: str, dir_fd: int) -> Any:
    """A report's JSON, read without following a link; OSError or ValueError when it cannot be."""
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{name} is not a regular file")
        return json.loads(os.read(fd, _MAX_REPORT_BYTES))
    finally:
        os.close(fd)


def read_reports(directory: Path, kind: str = WRITE) -> list[dict[str, Any]]:
    """Failure reports of one kind from live processes working for ``directory``.

    Reports (and temporary files) of processes that are gone are removed.
    """
    folder = _report_dir_fd(directory, create=False)
    if folder is None:
        return []
    reports = []
    try:
        try:
            names = os.listdir(folder)
        except OSError:
            return []
        for name in names:
            pid = atomic.temp_pid(name) or _pid_of(name)
            if pid is None:
                continue
            if name.endswith(atomic.TEMP_SUFFIX):
                if pid != os.getpid() and not pid_alive(pid):
                    _unlink(name, folder)  # left by a writer killed mid-report
                continue
            if not name.endswith(".json"):
                continue
            try:
                data = _read(name, folder)
                alive = pid_alive(int(data["pid"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if not isinstance(data, dict) or data.get("kind", WRITE) != kind:
                continue
            if alive:
                reports.append(data)
            else:
                _unlink(name, folder)
    finally:
        os.close(folder)
    return sorted(reports, key=lambda r: str(r.get("updated_at")))
