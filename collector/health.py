"""Failures of the job-file writer and of OTLP export, visible to other processes.

When the debug folder is unwritable or full, or the OTLP receiver is down,
the batch job goes on and the failure must still reach the operator
(``/status``, ``batch-debug status``). The folder itself cannot hold that
news, so each process keeps a small report per kind of failure in a folder
of the system's temporary directory, named after the debug folder:
``<tmp>/batch-debug-health/<hash of folder>/<pid>.json`` for write failures,
``<pid>.export.json`` for export failures. :func:`read_reports` returns the
reports of one kind from live processes for a folder.

:class:`WriteHealth` also decides what is logged: the first failure of a
streak with its traceback, later ones only counted, and the recovery once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .jobfile import pid_alive

logger = logging.getLogger(__name__)


def _report_dir(directory: Path) -> Path:
    key = hashlib.sha1(str(Path(directory).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "batch-debug-health" / key


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
        folder = _report_dir(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{os.getpid()}" if self.kind == WRITE else f"{os.getpid()}.{self.kind}"
            target = folder / f"{name}.json"
            tmp = folder / f".{name}.tmp"
            tmp.write_text(json.dumps({
                "pid": os.getpid(), "kind": self.kind, "directory": str(directory), "errors": self.errors,
                "failing": self.failing, "last_error": self.last_error,
                "updated_at": datetime.now(timezone.utc).isoformat(),
            }))
            os.replace(tmp, target)
        except OSError:
            logger.debug("could not write the health report in %s", folder, exc_info=True)


def read_reports(directory: Path, kind: str = WRITE) -> list[dict[str, Any]]:
    """Failure reports of one kind from live processes working for ``directory``."""
    folder = _report_dir(directory)
    reports = []
    try:
        entries = list(folder.glob("*.json"))
    except OSError:
        return []
    for path in entries:
        try:
            data = json.loads(path.read_text())
            alive = pid_alive(int(data["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if data.get("kind", WRITE) != kind:
            continue
        if alive:
            reports.append(data)
        else:
            try:
                path.unlink()
            except OSError:
                pass
    return sorted(reports, key=lambda r: str(r.get("updated_at")))
