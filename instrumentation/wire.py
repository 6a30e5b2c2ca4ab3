"""What httpcore and the answer's head tell about one attempt: times, connection, headers.

``Timings`` is the httpcore ``trace`` callback an attempt installs: it only
stamps the moments that matter, and :func:`connection_figures` turns the
stamps into reuse, connect, TLS and time-to-first-byte figures.
:func:`header_values` reads the few response headers an attempt needs in one
pass. All of it runs on the request's own path, so it is kept to the least.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from .upstream import header_items
from .views import HeadersView

_EVENTS = {
    "connection.connect_tcp.started": 0, "connection.connect_tcp.complete": 1,
    "connection.start_tls.started": 2, "connection.start_tls.complete": 3,
    "http11.send_request_headers.started": 4, "http2.send_request_headers.started": 4,
    "http11.receive_response_headers.complete": 5, "http2.receive_response_headers.complete": 5,
}

class Timings:
    """httpcore ``trace`` callback that only stamps times; the attempt reads them at its end."""

    __slots__ = ("stamps", "chained")

    def __init__(self, chained: Callable[..., Any] | None) -> None:
        self.stamps = [0.0] * 6
        self.chained = chained

    # httpcore calls this about ten times a request: locals bound as defaults save the global lookups.
    def stamp(self, name: str, _index: Any = _EVENTS.get, _now: Any = time.perf_counter) -> None:
        index = _index(name)
        if index is not None:
            self.stamps[index] = _now()

    def __call__(self, name: str, info: dict[str, Any]) -> Any:
        self.stamp(name)
        chained = self.chained
        return chained(name, info) if chained is not None else None


class AsyncTimings(Timings):
    """The same callback for the async transport, which awaits it (and the callback it chains)."""

    __slots__ = ()

    async def __call__(self, name: str, info: dict[str, Any]) -> Any:
        self.stamp(name)
        chained = self.chained
        return await chained(name, info) if chained is not None else None


#: Response headers an answer is read for (lower-case).
_WANTED = frozenset({b"server", b"connection", b"location", b"retry-after", b"content-type",
                     b"content-encoding"})


def header_values(headers: httpx.Headers | HeadersView, wanted: frozenset[bytes] = _WANTED) -> dict[bytes, bytes]:
    """The first value of each ``wanted`` header, in one pass.

    httpx's ``Headers.get`` works out the headers' text encoding on every
    call; ``upstream.header_items`` gives the lower-case names as httpx
    already holds them (a ``views.HeadersView`` holds the same triples).
    """
    found: dict[bytes, bytes] = {}
    triples = headers.triples if type(headers) is HeadersView else header_items(headers)  # type: ignore[arg-type]
    for _, name, value in triples:
        if name in wanted and name not in found:
            found[name] = value
    return found


def ms(seconds: float) -> float:
    """Seconds as milliseconds, to the microsecond."""
    return round(seconds * 1000, 3)


def connection_figures(stamps: list[float]) -> tuple[bool | None, float | None, float | None, float | None]:
    """(connection reused, connect ms, tls ms, time to first byte ms) from the trace stamps."""
    if not stamps[4]:
        return None, None, None, None
    new = bool(stamps[1])
    connect = ms(stamps[1] - stamps[0]) if new else None
    tls = ms(stamps[3] - stamps[2]) if stamps[3] else None
    ttfb = ms(stamps[5] - stamps[4]) if stamps[5] else None
    return not new, connect, tls, ttfb
