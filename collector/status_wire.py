"""The ``/status`` answer on the wire: its path, its keys, and how it is written and read.

Usage::

    body = status_wire.encode(state, active=..., files=..., files_total=..., debug_dir=...,
                              write_errors=..., export_errors=...)     # the sidecar (dashboard/api.py)
    answer = status_wire.decode(json.loads(raw))                        # a remote worker (remote_switch)
    answer.enabled, answer.remaining_seconds

The sidecar writes the answer and remote workers read it; both go through
this module, so a key renamed here is renamed for both (the dashboard's
OpenAPI schema, ``dashboard/schemas.py`` "Status", is checked against real
answers by ``tests/dashboard/test_dashboard_openapi.py``). :func:`decode` reads only what a worker needs, the
switch, and raises ``ValueError`` for anything that is not a status answer:
a worker treats that as "debug off".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .switch import SwitchState

#: The API's prefix and the route of the status answer under it.
API_PREFIX = "/api/v1/batch-debug"
ROUTE = "/status"
PATH = API_PREFIX + ROUTE

DEBUG_ENABLED = "debug_enabled"
SOURCE = "source"
EXPIRES_AT = "expires_at"
REMAINING_SECONDS = "remaining_seconds"
ACTIVE_JOBS = "active_jobs_with_debug"
RECENT_FILES = "recent_debug_files"
FILES_TOTAL = "debug_files_total"
DEBUG_DIR = "debug_dir"
WRITE_ERRORS = "write_errors"
EXPORT_ERRORS = "export_errors"
#: Every key of the answer, in the order it is written.
KEYS = (DEBUG_ENABLED, SOURCE, EXPIRES_AT, REMAINING_SECONDS, ACTIVE_JOBS, RECENT_FILES, FILES_TOTAL, DEBUG_DIR,
        WRITE_ERRORS, EXPORT_ERRORS)


@dataclass(frozen=True)
class SwitchAnswer:
    """What a worker reads from the answer: on or off, and for how long (None: no expiry)."""

    enabled: bool
    remaining_seconds: float | None


def failure_reports(reports: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Health reports (``health.read_reports``) as the answer lists them; reports without errors are left out."""
    return [{"pid": r["pid"], "count": r["errors"], "failing": r.get("failing", False),
             "last_error": r.get("last_error"), "updated_at": r.get("updated_at")}
            for r in reports if r.get("errors")]


def encode(state: SwitchState, *, active: Sequence[Mapping[str, Any]], files: Sequence[Mapping[str, Any]],
           files_total: int, debug_dir: str, write_errors: Iterable[Mapping[str, Any]] = (),
           export_errors: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The status answer for ``state``; ``files`` are ``JobFileInfo.to_dict()``s, the errors health reports."""
    return {
        DEBUG_ENABLED: state.enabled,
        SOURCE: state.source,
        EXPIRES_AT: state.expires_at.isoformat() if state.expires_at else None,
        REMAINING_SECONDS: state.remaining_seconds(),
        ACTIVE_JOBS: list(active),
        RECENT_FILES: list(files),
        FILES_TOTAL: files_total,
        DEBUG_DIR: debug_dir,
        WRITE_ERRORS: failure_reports(write_errors),
        EXPORT_ERRORS: failure_reports(export_errors),
    }


def decode(data: object) -> SwitchAnswer:
    """The switch part of a status answer; ValueError for anything else (a worker then counts debug as off)."""
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    enabled = data.get(DEBUG_ENABLED)
    remaining = data.get(REMAINING_SECONDS)
    if not isinstance(enabled, bool):
        raise ValueError(f"the answer has no boolean {DEBUG_ENABLED}")
    if remaining is not None and (isinstance(remaining, bool) or not isinstance(remaining, (int, float))):
        raise ValueError(f"the answer's {REMAINING_SECONDS} is not a number")
    return SwitchAnswer(enabled, None if remaining is None else float(remaining))
