"""Environment variables and settings, in one place.

Settings are data (name, default, help) so the CLI, the README and a test that
checks the README can all read the same table. A bad value is logged and
replaced by its default: telemetry configuration never stops a batch job.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: Truthy (``true/1/yes/on``, any case): debug is on for the process's life.
APHRODITE_BATCH_DEBUG = "APHRODITE_BATCH_DEBUG"
#: Folder for job files and the switch's state file.
APHRODITE_BATCH_DEBUG_DIR = "APHRODITE_BATCH_DEBUG_DIR"
#: When set, every ``/api/`` route needs ``Authorization: Bearer <token>``.
APHRODITE_BATCH_DEBUG_TOKEN = "APHRODITE_BATCH_DEBUG_TOKEN"
#: Most spans kept in memory per job; the rest are counted as dropped.
APHRODITE_BATCH_DEBUG_MAX_SPANS = "APHRODITE_BATCH_DEBUG_MAX_SPANS"
#: Disk quota for job files in MB; the oldest files go first.
APHRODITE_BATCH_DEBUG_MAX_MB = "APHRODITE_BATCH_DEBUG_MAX_MB"
#: The sidecar a worker on another host follows for the debug switch (``http://sidecar:8000``).
APHRODITE_BATCH_DEBUG_URL = "APHRODITE_BATCH_DEBUG_URL"
#: Host names (comma-separated) the dashboard answers to besides loopback, for requests without the token.
APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS = "APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS"
#: Permission bits of job, spool and progress files (octal, e.g. ``0640``); default owner-only.
APHRODITE_BATCH_DEBUG_FILE_MODE = "APHRODITE_BATCH_DEBUG_FILE_MODE"
#: Default Jellyfin server for the CLI.
JELLYFIN_URL = "JELLYFIN_URL"
#: Default Jellyfin API key for the CLI (always redacted in output).
JELLYFIN_API_KEY = "JELLYFIN_API_KEY"

TRUTHY = frozenset({"true", "1", "yes", "on"})
DEFAULT_DEBUG_DIR = "./debug_logs/batch_jobs"
DEFAULT_MAX_SPANS = 250_000
DEFAULT_MAX_MB = 500
DEFAULT_FILE_MODE = 0o600


@dataclass(frozen=True)
class Setting:
    """One environment setting: its name, default and a line of help."""

    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(APHRODITE_BATCH_DEBUG, "false",
            "true/1/yes/on (any case) turns debug on for the whole life of the process"),
    Setting(APHRODITE_BATCH_DEBUG_DIR, DEFAULT_DEBUG_DIR,
            "folder for job files and the shared debug state file"),
    Setting(APHRODITE_BATCH_DEBUG_TOKEN, "",
            "bearer token required by every /api/ route when set"),
    Setting(APHRODITE_BATCH_DEBUG_MAX_SPANS, str(DEFAULT_MAX_SPANS),
            "most spans kept per job; spans past the cap are counted as dropped"),
    Setting(APHRODITE_BATCH_DEBUG_MAX_MB, str(DEFAULT_MAX_MB),
            "disk quota for job files in MB; after each new file the oldest files are removed first (files other "
            "processes write into the folder count within 30 s)"),
    Setting(APHRODITE_BATCH_DEBUG_URL, "",
            "sidecar URL (e.g. `http://sidecar:8000`) whose `/status` a worker on another host polls for the "
            "debug switch instead of reading the debug folder; sends the token when set"),
    Setting(APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS, "",
            "comma-separated host names (e.g. `debug.example.lan`) the dashboard answers to besides loopback "
            "names and addresses, for requests without the token (a request with the token passes)"),
    Setting(APHRODITE_BATCH_DEBUG_FILE_MODE, "0600",
            "permission bits (octal) of job, spool and progress files, e.g. `0640` when the sidecar runs as "
            "another user of the same group"),
    Setting(JELLYFIN_URL, "", "default Jellyfin server URL for `batch-debug run-job`"),
    Setting(JELLYFIN_API_KEY, "", "default Jellyfin API key for `batch-debug run-job`"),
)


def env_truthy(name: str, environ: dict[str, str] | None = None) -> bool:
    """True when the variable holds one of ``true/1/yes/on`` (any case)."""
    value = (environ if environ is not None else os.environ).get(name, "")
    return value.strip().lower() in TRUTHY


def debug_dir(environ: dict[str, str] | None = None) -> Path:
    """The debug folder: ``APHRODITE_BATCH_DEBUG_DIR`` or the default."""
    value = (environ if environ is not None else os.environ).get(APHRODITE_BATCH_DEBUG_DIR, "")
    return Path(value.strip() or DEFAULT_DEBUG_DIR)


def allowed_hosts(environ: dict[str, str] | None = None) -> frozenset[str]:
    """``APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS`` as lower-case host names (ports and blanks dropped)."""
    raw = (environ if environ is not None else os.environ).get(APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS, "")
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def file_mode(environ: dict[str, str] | None = None) -> int:
    """``APHRODITE_BATCH_DEBUG_FILE_MODE`` (octal, at most ``0o666``); a bad value is logged and 0600 used."""
    raw = (environ if environ is not None else os.environ).get(APHRODITE_BATCH_DEBUG_FILE_MODE, "").strip()
    if not raw:
        return DEFAULT_FILE_MODE
    try:
        mode = int(raw, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o666 or not mode & 0o600 == 0o600:
        logger.warning("%s=%r is not an octal mode the owner can read and write, up to 0666; using 0600",
                       APHRODITE_BATCH_DEBUG_FILE_MODE, raw)
        return DEFAULT_FILE_MODE
    return mode


def env_int(name: str, default: int, minimum: int = 1, environ: dict[str, str] | None = None) -> int:
    """An integer setting; a bad value is logged and replaced by ``default``."""
    raw = (environ if environ is not None else os.environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        logger.warning("%s=%r is not an integer; using %d", name, raw, default)
        return default
    if value < minimum:
        logger.warning("%s=%d is below %d; using %d", name, value, minimum, default)
        return default
    return value
