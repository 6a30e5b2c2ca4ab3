"""The debug switch for workers on other hosts: ask the sidecar.

Usage::

    switch = make_switch()   # a RemoteSwitch when APHRODITE_BATCH_DEBUG_URL is set,
                             # else the folder's DebugSwitch
    switch.is_on()           # answered from memory, never waits on the network

A worker that shares no folder with the sidecar cannot see its state file.
:class:`RemoteSwitch` polls ``GET {url}/api/v1/batch-debug/status`` on a
daemon thread every ``interval`` seconds (``Authorization: Bearer`` with
``APHRODITE_BATCH_DEBUG_TOKEN`` when set; the answer is read by
``status_wire.decode``, the module the sidecar writes it with) and keeps
the answer, so a change
made at the sidecar reaches the worker within about a second, and
:meth:`RemoteSwitch.is_on` costs two comparisons. It fails safe: a poll that
fails (sidecar down, wrong token, garbage) turns debug off at once, and an
answer older than ``stale_after`` seconds counts as off too, so an outage
never leaves a worker stuck recording. The one wait is the process's first
``is_on``, which gives the first poll up to ``first_wait`` seconds, so a job
started right after the worker starts is recorded when debug is on.

The token never leaves the sidecar's origin: a redirect is followed only
to the same scheme, host and port; one elsewhere fails the poll (debug off,
logged) without a request to it.

The poller starts on first use and again in a forked child (Celery's
prefork workers), whose copy of the parent's thread does not run.
``APHRODITE_BATCH_DEBUG`` still turns debug on for the process's whole life.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import urllib.error
import urllib.request
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.instrumentation.utils import suppress_http_instrumentation, suppress_instrumentation

from . import config, status_wire
from .switch import DebugSwitch, SwitchState

logger = logging.getLogger(__name__)

STATUS_PATH = status_wire.PATH
POLL_SECONDS = 1.0
TIMEOUT_SECONDS = 1.0
STALE_SECONDS = 5.0
FIRST_WAIT_SECONDS = 1.0


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1  # a malformed port: no origin of ours
    return scheme, parts.hostname, port


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the origin it came from: urllib would resend the token anywhere."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            scheme, host, port = _origin(newurl)
            raise urllib.error.HTTPError(req.full_url, code, f"redirected to another origin "
                                         f"({scheme}://{host}:{port}), not followed so that the token stays with "
                                         "the sidecar", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def validate_url(url: str) -> str:
    """The sidecar's base URL without a trailing slash, or ValueError saying what is expected."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"the sidecar URL must look like http://sidecar:8000, not {url!r}.")
    return url.strip().rstrip("/")


class RemoteSwitch:
    """Debug on/off as the sidecar at ``url`` says (see the module doc)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        environ: dict[str, str] | None = None,
        interval: float = POLL_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
        stale_after: float = STALE_SECONDS,
        first_wait: float = FIRST_WAIT_SECONDS,
    ) -> None:
        self.url = validate_url(url)
        self.status_url = self.url + STATUS_PATH
        self.env_on = config.env_truthy(config.APHRODITE_BATCH_DEBUG, environ)
        self._token = token or None
        self.interval, self.timeout, self.first_wait = interval, timeout, first_wait
        self.stale_after = max(stale_after, 2 * interval + timeout)
        self._on = False
        self._expires_ts = 0.0  # time.time() on this host's clock
        self._fresh_until = 0.0  # time.monotonic()
        self._failing = False
        self._thread: threading.Thread | None = None
        self._first = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(_SameOriginRedirects)
        ref = weakref.ref(self)

        def forked() -> None:
            switch = ref()
            if switch is not None:
                switch._forked()

        os.register_at_fork(after_in_child=forked)

    def __repr__(self) -> str:
        return f"RemoteSwitch({self.url!r})"

    # -- reading -----------------------------------------------------------------
    def is_on(self) -> bool:
        """True while the sidecar's last fresh answer says debug is on. No network wait after the first call."""
        if self.env_on:
            return True
        if self._thread is None:
            self._start()
        return self._on and time.time() < self._expires_ts and time.monotonic() < self._fresh_until

    def state(self) -> SwitchState:
        """The cached state as a :class:`SwitchState` (source ``"remote"``)."""
        if self.env_on:
            return SwitchState(True, "env", None)
        if not self.is_on():
            return SwitchState(False, None, None)
        expires = None if math.isinf(self._expires_ts) else datetime.fromtimestamp(self._expires_ts, timezone.utc)
        return SwitchState(True, "remote", expires)

    # -- polling -----------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="batch-debug-switch", daemon=True)
                self._thread.start()
        self._first.wait(self.first_wait)

    def _forked(self) -> None:
        # The parent's poller does not exist in the child: start afresh, off until the first answer.
        self._thread = None
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._on = False

    def close(self) -> None:
        """Stop polling (tests, shutdown); ``is_on`` is False afterwards."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout + 1.0)
        self._on = False

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._first.set()
            self._stop.wait(self.interval)
        self._on = False

    def poll(self) -> bool:
        """Ask the sidecar once; True when it answered. Never raises."""
        request = urllib.request.Request(self.status_url, headers={"Accept": "application/json"})
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            # Our own calls are no one's telemetry, whatever instrumentation the host installed.
            with suppress_instrumentation(), suppress_http_instrumentation():
                with self._opener.open(request, timeout=self.timeout) as answer:  # noqa: S310 - http(s) only
                    answered = status_wire.decode(json.loads(answer.read(1 << 20)))
        except (OSError, ValueError) as exc:
            self._failed(exc)  # said first: whoever sees debug turn off here finds why in the log
            self._on = False
            return False
        remaining = answered.remaining_seconds
        self._expires_ts = math.inf if remaining is None else time.time() + remaining
        self._fresh_until = time.monotonic() + self.stale_after
        self._on = answered.enabled
        if self._failing:
            self._failing = False
            logger.warning("batch-debug reaches the sidecar at %s again", self.url)
        return True

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, urllib.error.HTTPError) and exc.code == 401:
            reason = f"it refused the token (set {config.APHRODITE_BATCH_DEBUG_TOKEN} to the sidecar's)"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        if not self._failing:
            self._failing = True
            logger.warning("batch-debug cannot ask the sidecar at %s for the debug switch (%s); "
                           "debug is off here until it answers", self.url, reason)
        else:
            logger.debug("sidecar poll failed again: %s", reason)


def make_switch(directory: Path | str | None = None, *,
                environ: dict[str, str] | None = None) -> DebugSwitch | RemoteSwitch:
    """The switch this process should follow.

    ``APHRODITE_BATCH_DEBUG_URL`` set: the sidecar's (:class:`RemoteSwitch`,
    with ``APHRODITE_BATCH_DEBUG_TOKEN``); a malformed URL is logged and the
    folder's switch used instead. Otherwise the debug folder's
    :class:`~.switch.DebugSwitch`.
    """
    env = environ if environ is not None else os.environ
    url = env.get(config.APHRODITE_BATCH_DEBUG_URL, "").strip()
    if url:
        try:
            return RemoteSwitch(url, token=env.get(config.APHRODITE_BATCH_DEBUG_TOKEN, "").strip() or None,
                                environ=environ)
        except ValueError as exc:
            logger.warning("%s: %s; following the debug folder instead", config.APHRODITE_BATCH_DEBUG_URL, exc)
    return DebugSwitch(directory, environ=environ)
