"""Write failures of the job-file writer, visible to other processes.

When the debug folder is unwritable or full, the batch job goes on and the
failure must still reach the operator (``/status``, ``batch-debug status``).
The folder itself cannot hold that news, so each writing process keeps a
small report in a folder of the system's temporary directory, named after
the debug folder: ``<tmp>/batch-debug-health/<hash of folder>/<pid>.json``.
:func:`read_reports` returns the reports of live processes for a folder.

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

logger = logging.getLogger(__name__)


def _report_dir(directory: Path) -> Path:
    key = hashlib.sha1(str(Path(directory).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "batch-debug-health" / key


class WriteHealth:
    """Counts write failures for one process and one debug folder."""

    def __init__(self) -> None:
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
            logger.error("batch-debug cannot write to %s (%s); the batch job goes on, "
                         "job files are lost until this is fixed", directory, message, exc_info=exc)
        else:
            logger.debug("batch-debug write failure again: %s", message)
        self._report(directory)

    def succeeded(self, directory: Path) -> None:
        if self.failing:
            with self._lock:
                self.failing = False
            logger.warning("batch-debug can write to %s again (%d failures before)", directory, self.errors)
            self._report(directory)

    def _report(self, directory: Path) -> None:
        folder = _report_dir(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{os.getpid()}.json"
            tmp = folder / f".{os.getpid()}.tmp"
            tmp.write_text(json.dumps({
                "pid": os.getpid(), "directory": str(directory), "errors": self.errors,
                "failing": self.failing, "last_error": self.last_error,
                "updated_at": datetime.now(timezone.utc).isoformat(),
            }))
            os.replace(tmp, target)
        except OSError:
            logger.debug("could not write the health report in %s", folder, exc_info=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_reports(directory: Path) -> list[dict[str, Any]]:
    """Write-failure reports of live processes writing to ``directory``."""
    folder = _report_dir(directory)
    reports = []
    try:
        entries = list(folder.glob("*.json"))
    except OSError:
        return []
    for path in entries:
        try:
            data = json.loads(path.read_text())
            alive = _alive(int(data["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if alive:
            reports.append(data)
        else:
            try:
                path.unlink()
            except OSError:
                pass
    return sorted(reports, key=lambda r: str(r.get("updated_at")))
