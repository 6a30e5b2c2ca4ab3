"""The debug switch: is debug on for this process right now?

Usage::

    switch = DebugSwitch()            # folder from APHRODITE_BATCH_DEBUG_DIR
    switch.enable(duration_minutes=30)
    switch.is_on()                    # True here and, within a second, in
                                      # every process that shares the folder
    switch.disable()

Debug is on when ``APHRODITE_BATCH_DEBUG`` is truthy (for the process's
life), or while the state file in the debug folder says so and its
``expires_at`` lies in the future. The state file is written atomically
(temporary file + rename), so readers never see half a file; expiry is a time
comparison, so no thread is needed to turn debug off.

:meth:`DebugSwitch.is_on` is called for every span and must stay cheap: it
looks at the file at most every ``refresh_seconds`` (a ``stat``, and a read
only when the file changed) and answers from memory in between.

The clocks are arguments (``clock``: wall time in seconds since the epoch,
for expiry; ``monotonic``: for the refresh interval), ``time.time`` and
``time.monotonic`` by default, so tests move time on instead of sleeping::

    switch = DebugSwitch(folder, clock=fake.time, monotonic=fake.monotonic)
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import atomic, config

logger = logging.getLogger(__name__)

STATE_FILENAME = ".batch_debug_state.json"
MIN_MINUTES = 1
MAX_MINUTES = 1440
DEFAULT_MINUTES = 30
REFRESH_SECONDS = 0.5


@dataclass(frozen=True)
class SwitchState:
    """What the switch says at one moment."""

    enabled: bool
    source: str | None  # "env", "api" or None when off
    expires_at: datetime | None  # timezone-aware UTC; None for env or off
    updated_at: datetime | None = None

    def remaining_seconds(self, now: datetime | None = None) -> int | None:
        """Whole seconds until expiry, or None when there is no expiry."""
        if not self.enabled or self.expires_at is None:
            return None
        now = now or datetime.now(timezone.utc)
        return max(0, int((self.expires_at - now).total_seconds()))

    def to_dict(self, now: datetime | None = None) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "source": self.source,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "remaining_seconds": self.remaining_seconds(now),
        }


def validate_minutes(duration_minutes: object) -> int:
    """The duration as an int, or ValueError saying what is allowed."""
    if isinstance(duration_minutes, bool) or not isinstance(duration_minutes, int):
        raise ValueError(
            f"duration_minutes must be a whole number from {MIN_MINUTES} to {MAX_MINUTES}, "
            f"not {duration_minutes!r}."
        )
    if not MIN_MINUTES <= duration_minutes <= MAX_MINUTES:
        raise ValueError(
            f"duration_minutes must be from {MIN_MINUTES} to {MAX_MINUTES}, got {duration_minutes}."
        )
    return duration_minutes


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _deskew(expires_at: datetime, updated_at: datetime, path: Path) -> datetime:
    """The expiry on this machine's clock, whatever the writer's clock said.

    The writer stores ``updated_at`` and ``expires_at`` from its own clock; the
    file's mtime is stamped by this machine's file system. The duration between
    the two stamps, counted from the mtime, is right even when the writer's
    clock was seconds off. Skews under a second are ignored.
    """
    duration = expires_at - updated_at
    if not timedelta(0) < duration <= timedelta(minutes=MAX_MINUTES):
        return expires_at
    try:
        written = datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc)
    except OSError:
        return expires_at
    corrected = written + duration
    return expires_at if abs(corrected - expires_at) < timedelta(seconds=1) else corrected


class DebugSwitch:
    """Debug on/off, shared between processes through a state file."""

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        environ: dict[str, str] | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory) if directory is not None else config.debug_dir(environ)
        self.path = self.directory / STATE_FILENAME
        self.env_on = config.env_truthy(config.APHRODITE_BATCH_DEBUG, environ)
        self._refresh = refresh_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._next_check = 0.0  # monotonic() of the next look at the file
        self._mtime_ns: tuple[int, int] | None = None
        # One tuple, swapped in one assignment: readers on other threads never
        # see a new state with an old expiry (which would read as "off").
        self._view: tuple[SwitchState, float] = (SwitchState(False, None, None), 0.0)

    # -- reading ---------------------------------------------------------
    def is_on(self) -> bool:
        """True while debug is on. Cheap: no system call between refreshes."""
        if self.env_on:
            return True
        if self._monotonic() >= self._next_check:
            self._refresh_from_file()
        state, expires_ts = self._view
        return state.enabled and self._clock() < expires_ts

    def state(self) -> SwitchState:
        """The current state, read fresh from the file."""
        if self.env_on:
            return SwitchState(True, "env", None)
        self._refresh_from_file(force=True)
        st, expires_ts = self._view
        if st.enabled and self._clock() < expires_ts:
            return st
        return SwitchState(False, None, None, st.updated_at)

    def _refresh_from_file(self, force: bool = False) -> None:
        with self._lock:
            if not force and self._monotonic() < self._next_check:
                return  # another thread refreshed while we waited for the lock
            try:
                self._load()
            finally:
                # Only now: until the view is loaded, other threads must come
                # here and wait, not answer from the old view.
                self._next_check = self._monotonic() + self._refresh

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
            # Each write is a rename, so a new inode marks a change even
            # when two writes share one mtime tick.
            mtime = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            self._set(SwitchState(False, None, None), None)
            return
        except OSError:
            logger.warning("cannot read debug state %s; treating debug as off", self.path, exc_info=True)
            self._set(SwitchState(False, None, None), None)
            return
        if mtime != self._mtime_ns:
            self._set(self._read(), mtime)

    def _set(self, state: SwitchState, mtime: tuple[int, int] | None) -> None:
        self._view = (state, state.expires_at.timestamp() if state.expires_at else 0.0)
        self._mtime_ns = mtime

    def _read(self) -> SwitchState:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            expires_at = _parse_time(data.get("expires_at"))
            updated_at = _parse_time(data.get("updated_at"))
            if expires_at is not None and updated_at is not None:
                expires_at = _deskew(expires_at, updated_at, self.path)
            return SwitchState(
                enabled=bool(data.get("enabled")),
                source=data.get("source") or "api",
                expires_at=expires_at,
                updated_at=updated_at,
            )
        except FileNotFoundError:
            return SwitchState(False, None, None)
        except (OSError, ValueError, AttributeError):
            # A damaged state file must never turn debug on by accident.
            logger.warning("debug state file %s is unreadable; treating debug as off", self.path)
            return SwitchState(False, None, None)

    def now(self) -> datetime:
        """The switch's wall clock as an aware UTC datetime (for ``SwitchState.remaining_seconds``)."""
        return datetime.fromtimestamp(self._clock(), timezone.utc)

    # -- writing ---------------------------------------------------------
    def enable(self, duration_minutes: int = DEFAULT_MINUTES) -> SwitchState:
        """Turn debug on for ``duration_minutes`` (1..1440) in every process.

        Enabling while already on extends: the later of the two expiries wins.
        """
        minutes = validate_minutes(duration_minutes)
        now = self.now()
        expires = now + timedelta(minutes=minutes)
        current = self.state()
        if current.enabled and current.expires_at and current.expires_at > expires:
            expires = current.expires_at
        state = SwitchState(True, "api", expires, now)
        self._write(state)
        return self.state() if self.env_on else state

    def disable(self) -> SwitchState:
        """Turn debug off everywhere (the env var still wins in its own process)."""
        state = SwitchState(False, None, None, self.now())
        self._write(state)
        return self.state()

    def _write(self, state: SwitchState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "enabled": state.enabled,
            "source": state.source,
            "expires_at": state.expires_at.isoformat() if state.expires_at else None,
            "updated_at": (state.updated_at or datetime.now(timezone.utc)).isoformat(),
        }
        # Created with APHRODITE_BATCH_DEBUG_FILE_MODE: workers of another user in the group must read it.
        atomic.replace(self.path, json.dumps(payload), kind="state")
        with self._lock:
            self._next_check = 0.0  # our own change is visible at once
