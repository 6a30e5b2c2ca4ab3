"""The limits of one worker run: a cap on each answer's body and a deadline for the whole run.

Usage (``worker``)::

    bounds = RunBounds(max_body_bytes=32 << 20, deadline_seconds=60)
    client = httpx.Client(event_hooks=bounds.event_hooks(asynchronous=False))
    ...                      # every answer's body is read through CappedBody
    bounds.close()

Both limits are off when None (a batch job runs unbounded). The dashboard's
Custom ID Test sets them, so a caller's item cannot make the dashboard read
a huge body or wait on a trickle. Past a limit the item fails with
:class:`ItemFailure`, the worker's own failure type.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx


class ItemFailure(Exception):
    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class RunBounds:
    """The limits of one run (``max_body_bytes``, ``deadline_seconds``); inert when both are None.

    Between chunks and attempts the deadline is checked; a watchdog also shuts
    down the run's sockets when it passes, for reads no check sits between
    (an error body read ahead by the recorder, a head that never ends).
    """

    def __init__(self, max_body_bytes: int | None, deadline_seconds: float | None) -> None:
        self.max_body, self.seconds = max_body_bytes, deadline_seconds
        self.deadline = time.monotonic() + self.seconds if self.seconds is not None else None
        self._streams: list[Any] = []
        self._expired = False
        self._lock = threading.Lock()
        self._watchdog: threading.Timer | None = None
        if self.seconds is not None:
            self._watchdog = threading.Timer(self.seconds, self._expire)
            self._watchdog.daemon = True
            self._watchdog.start()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore ``trace`` callback: note every connection of the run, for the watchdog."""
        if name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            with self._lock:
                self._streams.append(info.get("return_value"))
                expired = self._expired
            if expired:
                self._expire()

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            streams = list(self._streams)
        for stream in streams:
            try:
                stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
            except (AttributeError, OSError):
                pass  # closed already, or not a socket

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check_time(self, status: int | None = None) -> None:
        """ItemFailure once the deadline has passed."""
        left = self.left()
        if left is not None and left <= 0:
            raise ItemFailure(status, f"the run's deadline of {self.seconds:g} s passed; the item was stopped")

    def wait(self, seconds: float) -> float:
        """``seconds``, cut to what is left of the run."""
        left = self.left()
        return seconds if left is None else max(0.0, min(seconds, left))

    def timeout(self, configured: float) -> float:
        """The timeout of one request: never past the deadline."""
        left = self.left()
        return configured if left is None else max(0.001, min(configured, left))

    def headers(self) -> dict[str, str]:
        # A compressed body's decoded size is not what the cap counts.
        return {"Accept-Encoding": "identity"} if self.max_body is not None else {}

    def event_hooks(self, *, asynchronous: bool) -> dict[str, list[Callable[..., Any]]]:
        """httpx hooks that read every answer's body (redirects too) through :class:`CappedBody`."""
        if self.max_body is None and self.deadline is None:
            return {}

        def bound(response: httpx.Response) -> None:
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if self.max_body is not None and encoding not in ("", "identity"):
                raise ItemFailure(response.status_code, f"the answer to {response.request.method} "
                               f"{response.request.url.path} came compressed ({encoding}) though the worker "
                               f"asked for identity; its size cannot be capped")
            response.stream = CappedBody(response.stream, self, response.status_code)

        async def bound_async(response: httpx.Response) -> None:
            bound(response)

        return {"response": [bound_async if asynchronous else bound]}


class CappedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body read through the run's bounds: _Failure past the cap or the deadline."""

    def __init__(self, inner: Any, bounds: RunBounds, status: int) -> None:
        self.inner, self.bounds, self.status, self.size = inner, bounds, status, 0

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        cap = self.bounds.max_body
        if cap is not None and self.size > cap:
            raise ItemFailure(self.status, f"the answer's body is larger than the cap of {cap} bytes; "
                           f"reading stopped after {self.size} bytes")
        self.bounds.check_time(self.status)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self._count(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self._count(chunk)
            yield chunk

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()
