"""The recorder for aiohttp requests inside a job: aiohttp's tracing signals drive ``exchange.Attempt``.

Usage (``aiohttp_setup`` puts it in a session's trace configs only while a
job is in the context)::

    config = recorder()          # one frozen aiohttp.TraceConfig for every session

aiohttp follows redirects inside one ``ClientSession._request``, so one
request context (:class:`_Exchange`, the ``trace_config_ctx`` aiohttp makes
per request) holds the attempt of each hop in turn: a redirect hop is an
attempt of its own, like httpx's. The signals used, and what each gives the
attempt (``wire.Timings.stamps``: tcp connect start/end, -, -, headers sent,
answer's head received):

- ``on_request_start``: the attempt begins, from a light request
  view (the credential is learned before anything is recorded);
- ``on_connection_create_start`` / ``_end``: a new connection (stamps 0, 1);
  ``on_connection_reuseconn``: a pooled one; aiohttp reports no TLS step
  apart from the connect, so ``tls_ms`` stays empty;
- ``on_request_headers_sent``: stamp 4, and the headers really sent (with
  aiohttp's own ``User-Agent``, ``Host``...) for the record of a failed
  attempt;
- ``on_request_redirect`` / ``on_request_end``: the answer's head (stamp 5;
  aiohttp has no signal of its own for it, these come right after it);
- ``on_request_exception``: no answer (or ``raise_for_status`` refused it);
- ``on_response_chunk_received``: aiohttp sends the whole body once, from
  ``ClientResponse.read()`` (and so ``text()``, ``json()``); an error body
  (status >= 400) is taken from it.

The body phase is read off the response's ``StreamReader`` when aiohttp
releases or closes the response's connection (``Connection.add_callback``):
at its end the body is complete; with an exception of aiohttp's own (a
``ClientPayloadError`` when the connection is cut, a ``SocketTimeoutError``
when it stalls) the attempt failed in phase ``body``; released before its
end by the caller, it just ends (``body_complete: false``). Body bytes are
what came over the wire (``total_raw_bytes``). An attempt that should keep
its body (an error body, a login's answer) waits for the caller's
``read()``, the session's close or the job's end, whichever comes first.

What differs from httpx, and why: aiohttp retries a request once, unseen,
when a reused keep-alive connection turns out closed (idempotent methods):
the attempt then shows the new connection and no ``stale_connections``
failure. An error body the caller never reads through ``read()`` (it
streams ``content``, or releases unread) is not captured, since aiohttp
offers no way to look at a body without consuming it; an answer cancelled
mid-body (a deadline) ends as closed early, not as ``aborted``. Error types
are aiohttp's own names (``ClientConnectorError``, ``ClientPayloadError``).

Every callback catches its own failures (one in a signal would be the request's).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from yarl import URL

from ..collector.body_kind import SNIFF_BYTES
from .exchange import Attempt
from .jobstate import JobState, current_job
from .upstream import aiohttp_body_start, instrumentation_suppressed
from .views import RequestView, aiohttp_answer, aiohttp_request
from .wire import Timings

logger = logging.getLogger(__name__)

Callback = Callable[[aiohttp.ClientSession, Any, Any], Awaitable[None]]


def _settle(attempt: Attempt, content: Any) -> None:
    """How the body ended, read off aiohttp's ``StreamReader`` once the connection is let go."""
    if attempt.body_done or attempt.failed_in is not None:
        return
    attempt.body_bytes = getattr(content, "total_raw_bytes", attempt.body_bytes)
    if content.is_eof():
        attempt.body_complete()
        return
    exc = content.exception()
    # Exactly ClientConnectionError: the caller released the response early (aiohttp's own marker),
    # which is not a failure; aiohttp's read failures are its subclasses.
    if exc is not None and type(exc) is not aiohttp.ClientConnectionError:
        attempt.body_failed(exc)


class _Exchange:
    """One aiohttp request in a job, all its redirect hops: the ``trace_config_ctx`` aiohttp makes per request."""

    __slots__ = ("trace_request_ctx", "job", "gate", "method", "headers", "attempt", "view", "sent",
                 "next_url", "reading")

    def __init__(self, trace_request_ctx: Any = None) -> None:
        self.trace_request_ctx = trace_request_ctx  # aiohttp's documented attribute of every trace ctx
        self.job: JobState | None = current_job.get()
        self.gate: Any = None
        self.method = "GET"
        self.headers: Any = ()
        self.attempt: Attempt | None = None  # the hop in flight
        self.view: RequestView | None = None
        self.sent: Any = None  # the params of on_request_headers_sent for this hop
        self.next_url: URL | None = None  # where the last redirect points: the next hop begins there
        self.reading: Attempt | None = None  # the answered last hop, waiting for the caller's read()

    def begin(self, url: URL) -> None:
        job = self.job
        if job is None:
            return
        try:
            self.view = aiohttp_request(self.method, url, self.headers)
            self.attempt = Attempt(job, self.view, Timings, self.gate)
            self.sent = None
        except Exception:  # noqa: BLE001 - our failure must not become the request's
            logger.exception("batch-debug could not trace an aiohttp request; it goes on untraced")
            self.job = None

    def current(self) -> Attempt | None:
        """The hop in flight; after a redirect the next hop begins with its first connection signal."""
        if self.attempt is None and self.next_url is not None:
            url, self.next_url = self.next_url, None
            self.begin(url)
        return self.attempt

    def request(self, status: int | None = None) -> RequestView:
        """The request for the record: as it went out (headers aiohttp added included) when its headers
        are recorded (no answer, or status >= 400), else the view made when it began."""
        sent = self.sent
        if sent is not None and (status is None or status >= 400):
            return aiohttp_request(sent.method, sent.url, sent.headers)
        assert self.view is not None
        return self.view


def _safe(callback: Callable[[aiohttp.ClientSession, _Exchange, Any], None]) -> Callback:
    @functools.wraps(callback)
    async def signal(session: aiohttp.ClientSession, ctx: Any, params: Any) -> None:
        if not isinstance(ctx, _Exchange) or ctx.job is None:
            return
        try:
            callback(session, ctx, params)
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not record an aiohttp signal; the request goes on")
    return signal


@_safe
def _request_start(session: aiohttp.ClientSession, ctx: _Exchange, params: Any) -> None:
    if instrumentation_suppressed():  # our probe, exporters
        ctx.job = None
        return
    ctx.gate = session.trace_configs  # aiohttp_setup's gate: marks a session its job closed
    ctx.method, ctx.headers = params.method, params.headers
    ctx.begin(params.url)


def _stamp(index: int, *, clear: tuple[int, ...] = ()) -> Callback:
    def stamp(session: aiohttp.ClientSession, ctx: _Exchange, params: Any) -> None:
        attempt = ctx.current()
        if attempt is not None:
            stamps = attempt.timings.stamps
            for other in clear:
                stamps[other] = 0.0
            if index >= 0:
                stamps[index] = time.perf_counter()
    stamp.__name__ = f"_stamp_{index}"
    return _safe(stamp)


@_safe
def _headers_sent(session: aiohttp.ClientSession, ctx: _Exchange, params: Any) -> None:
    attempt = ctx.current()
    if attempt is not None:
        attempt.timings.stamps[4] = time.perf_counter()
        ctx.sent = params


def _answered(ctx: _Exchange, response: aiohttp.ClientResponse) -> Attempt | None:
    attempt, ctx.attempt = ctx.attempt, None
    if attempt is None:
        return None
    attempt.timings.stamps[5] = time.perf_counter()
    status = response.status
    attempt.answered(ctx.request(status), aiohttp_answer(status, response.raw_headers, response.version))
    return attempt


@_safe
def _redirect(session: aiohttp.ClientSession, ctx: _Exchange, params: Any) -> None:
    response = params.response
    attempt = _answered(ctx, response)
    if attempt is not None:
        _settle(attempt, response.content)  # aiohttp releases a redirect unread
        attempt.finish()
    location = response.headers.get("Location") or response.headers.get("URI")
    try:
        ctx.next_url = response.url.join(URL(location)) if location else None
    except ValueError:  # aiohttp refuses it too (InvalidUrlRedirectClientError): no next hop
        ctx.next_url = None


@_safe
def _request_end(session: aiohttp.ClientSession, ctx: _Exchange, params: Any) -> None:
    ctx.next_url = None  # a 3xx without Location ends here: it was recorded at its redirect signal
    response = params.response
    attempt = _answered(ctx, response)
    if attempt is None:
        return
    content = response.content
    if attempt.sniffed is not None:
        attempt.first = aiohttp_body_start(content, SNIFF_BYTES)  # a body that came with its head
    keep = attempt.capture is not None and response.method != "HEAD"  # an error body, a login: wait for read()
    if keep:
        ctx.reading = attempt
        pending = getattr(ctx.gate, "pending", None)
        if pending is not None:  # the session's close ends it, if no read() does
            pending[attempt] = True

    def released() -> None:
        try:
            if attempt.sniffed is not None and attempt.first is None:
                # The body's end came: a body of one chunk waits in the buffer for the caller's read().
                attempt.first = aiohttp_body_start(content, SNIFF_BYTES)
            _settle(attempt, content)
            if not (keep and attempt.body_done):  # a whole body to keep waits for read(); else it ends here
                _stop_waiting(ctx, attempt)
                attempt.finish()
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not record the end of an aiohttp response")

    connection = response.connection
    if connection is None:  # the body was all there with the head: aiohttp let the connection go already
        released()
    else:
        connection.add_callback(released)


def _stop_waiting(ctx: _Exchange, attempt: Attempt) -> None:
    if ctx.reading is attempt:
        ctx.reading = None
    pending = getattr(ctx.gate, "pending", None)
    if pending is not None:
        pending.pop(attempt, None)


@_safe
def _chunk(session: aiohttp.ClientSession, ctx: _Exchange, params: Any) -> None:
    attempt = ctx.reading
    if attempt is None:
        return
    _stop_waiting(ctx, attempt)
    chunk = params.chunk
    if attempt.capture is not None:
        attempt.capture.append(chunk)
    if attempt.first is None:
        # aiohttp hands over the body decoded: its start tells what it is (``answer_words.tell_body``).
        attempt.first = chunk[:SNIFF_BYTES]
    if not attempt.body_bytes:  # not settled yet: the bytes read() gave (decoded) stand in
        attempt.body_bytes = len(chunk)
    if not attempt.body_done and attempt.failed_in is None:
        attempt.body_complete()  # read() returned the whole body
    attempt.finish()


@_safe
def _exception(session: aiohttp.ClientSession, ctx: _Exchange, params: Any) -> None:
    attempt, ctx.attempt = ctx.attempt, None
    if attempt is None:  # between hops (too many redirects, a bad Location): nothing went out
        return
    exc = params.exception
    if isinstance(exc, aiohttp.ClientResponseError) and exc.status and attempt.timings.stamps[4]:
        # raise_for_status=True on the session: the answer came, aiohttp refused it before request_end.
        attempt.timings.stamps[5] = time.perf_counter()
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
        attempt.answered(ctx.request(exc.status), aiohttp_answer(exc.status, headers, None))
        attempt.finish()
        return
    attempt.failed(exc, ctx.request())


def recorder() -> aiohttp.TraceConfig:
    """A frozen ``TraceConfig`` recording every request made with it inside a job (see the module doc)."""
    config = aiohttp.TraceConfig(trace_config_ctx_factory=_Exchange)  # type: ignore[arg-type]
    config.on_request_start.append(_request_start)
    config.on_connection_create_start.append(_stamp(0, clear=(1,)))
    config.on_connection_create_end.append(_stamp(1))
    config.on_connection_reuseconn.append(_stamp(-1, clear=(0, 1)))
    config.on_request_headers_sent.append(_headers_sent)
    config.on_request_redirect.append(_redirect)
    config.on_request_end.append(_request_end)
    config.on_request_exception.append(_exception)
    config.on_response_chunk_received.append(_chunk)
    config.freeze()
    return config
