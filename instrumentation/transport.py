"""The gate in front of httpx's transports, and the lean path for job requests.

``install_gate`` replaces ``HTTPTransport.handle_request`` (and the async
twin), which opentelemetry-instrumentation-httpx has already wrapped, with a
function that picks one of three paths per request:

- no recorded job in the current context and debug off: the original,
  uninstrumented method. Cost: one ``ContextVar.get`` and the switch's cached
  check, so "debug off" costs about nothing;
- a job in the current context (recorded, or captured by the Custom ID
  Test): :func:`_traced`, which records the whole exchange as one
  ``exchange.Attempt`` (its lean span carries the request record), wrapping
  the response body so the attempt ends with its last byte;
- debug on outside any job: the stock instrumented method (with our hooks),
  so those requests still reach an OTLP viewer; they are counted
  (``jobstate.OUTSIDE``) so a job can hint at threads started without
  ``copy_context``.

Requests made with OpenTelemetry's suppress-instrumentation context (our
server probe, exporters) are never traced.

Why not the stock path for job requests too: measured here, the stock
instrumentation alone costs about a third of a plain request (it parses the
URL twice, normalises every header for capture and builds metric
attributes); the lean path records more for less.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import FunctionType
from typing import Any

import httpx

from ..collector.bodytext import CAPTURE_LIMIT
from .exchange import Attempt
from .wire import AsyncTimings, Timings
from .streams import AsyncRecordedBody, RecordedBody
from .jobstate import OUTSIDE, JobState, current_job
from .upstream import instrumentation_suppressed as _suppressed, uninstrumented

logger = logging.getLogger(__name__)

# _traced and _traced_async are thin shells around the steps below: each step is written once and
# the shells only call (or await) the transport and the read-ahead.


def _begin(job: JobState, request: httpx.Request, transport: Any, timings: type[Timings]) -> Attempt | None:
    """The attempt recording this request, or None: it goes on untraced (instrumentation suppressed:
    our server probe, exporters; or we could not start recording it)."""
    if _suppressed():
        return None
    try:
        return Attempt(job, request, timings, transport)
    except Exception:  # noqa: BLE001 - our failure must not become the request's
        logger.exception("batch-debug could not trace a request; it goes on untraced")
        return None


def _failed(attempt: Attempt, exc: BaseException, request: httpx.Request) -> None:
    """The request failed before an answer (the caller re-raises ``exc``)."""
    try:
        attempt.failed(exc, request)
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not record a failed request")


def _answered(attempt: Attempt, request: httpx.Request, response: httpx.Response,
              body_cls: type[RecordedBody] | type[AsyncRecordedBody]) -> tuple[Any, bool]:
    """The recorded body for ``response`` and whether to read it ahead now (an error body);
    ``(None, False)`` when we could not record the answer (the response goes on as it is)."""
    try:
        body = body_cls(attempt, response.stream)  # type: ignore[arg-type]
        return body, attempt.answered(request, response)
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not record a response; the request goes on")
        return None, False


def _traced(original: Callable[..., Any], transport: Any, request: httpx.Request, job: JobState) -> Any:
    attempt = _begin(job, request, transport, Timings)
    if attempt is None:
        return original(transport, request)
    try:
        response = original(transport, request)
    except BaseException as exc:
        _failed(attempt, exc, request)
        raise
    body, read_ahead = _answered(attempt, request, response, RecordedBody)
    if body is not None:
        try:
            if read_ahead:
                body.read_ahead_upto(CAPTURE_LIMIT)
            response.stream = body
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not record a response; the request goes on")
    return response


async def _traced_async(original: Callable[..., Any], transport: Any, request: httpx.Request,
                        job: JobState) -> Any:
    attempt = _begin(job, request, transport, AsyncTimings)
    if attempt is None:
        return await original(transport, request)
    try:
        response = await original(transport, request)
    except BaseException as exc:
        _failed(attempt, exc, request)
        raise
    body, read_ahead = _answered(attempt, request, response, AsyncRecordedBody)
    if body is not None:
        try:
            if read_ahead:
                await body.read_ahead_upto(CAPTURE_LIMIT)
            response.stream = body
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not record a response; the request goes on")
    return response


def _outside_job() -> None:
    """A request with debug on but no job in its context: counted, for the job files' hint."""
    if not _suppressed():  # our own probes and exporters suppress instrumentation
        OUTSIDE.add()


def _mark_closed(transport: Any) -> None:
    try:
        transport._batch_debug_closed = True  # noqa: SLF001 - read by exchange.Attempt
    except AttributeError:  # a transport class with __slots__: its attempts just go unmarked
        pass


def _note_closing() -> None:
    """Mark a transport closed when its client closes it (``close``, ``with`` exit, and async twins),
    so requests it aborts are told from requests the server broke (``exchange``: phase ``aborted``).
    Idempotent."""
    if getattr(httpx.HTTPTransport.close, "_batch_debug_mark", False):
        return
    for cls, names in ((httpx.HTTPTransport, ("close", "__exit__")),
                       (httpx.AsyncHTTPTransport, ("aclose", "__aexit__"))):
        for name in names:
            setattr(cls, name, _marking(getattr(cls, name), asynchronous=name.startswith(("a", "__a"))))


def _marking(method: Callable[..., Any], *, asynchronous: bool) -> Callable[..., Any]:
    if asynchronous:
        async def closing_async(self: Any, *args: Any) -> Any:
            _mark_closed(self)
            return await method(self, *args)

        closing_async._batch_debug_mark = True  # type: ignore[attr-defined]
        return closing_async

    def closing(self: Any, *args: Any) -> Any:
        _mark_closed(self)
        return method(self, *args)

    closing._batch_debug_mark = True  # type: ignore[attr-defined]
    return closing


def remove_gate() -> None:
    """Take the gate out again (before httpx is instrumented: the gate must stay in front of it)."""
    for cls, name in ((httpx.HTTPTransport, "handle_request"), (httpx.AsyncHTTPTransport, "handle_async_request")):
        current = cls.__dict__.get(name)
        # A plain function with our mark (a wrapt proxy around the gate would pass the mark on too).
        if isinstance(current, FunctionType) and getattr(current, "_batch_debug_gate", False):
            setattr(cls, name, current.__wrapped__)  # type: ignore[attr-defined]


def install_gate(is_on: Callable[[], bool]) -> None:
    """Put the gate in front of the (already instrumented) httpx transports.

    ``is_on`` is the debug switch's cheap check. Idempotent.
    """
    _note_closing()
    sync_current = httpx.HTTPTransport.handle_request
    if getattr(sync_current, "_batch_debug_gate", False):
        return
    original = uninstrumented(httpx.HTTPTransport, "handle_request")
    instrumented = sync_current

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        job = current_job.get()
        if job is not None:
            return _traced(original, self, request, job)
        if is_on():
            _outside_job()
            return instrumented(self, request)
        return original(self, request)

    async_current = httpx.AsyncHTTPTransport.handle_async_request
    async_original = uninstrumented(httpx.AsyncHTTPTransport, "handle_async_request")
    async_instrumented = async_current

    async def handle_async_request(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        job = current_job.get()
        if job is not None:
            return await _traced_async(async_original, self, request, job)
        if is_on():
            _outside_job()
            return await async_instrumented(self, request)
        return await async_original(self, request)

    # Marked as ours; __wrapped__ is what remove_gate puts back (the instrumentor's unwrap()
    # only unwraps wrapt proxies, so it leaves a plain function like the gate in place).
    handle_request._batch_debug_gate = True  # type: ignore[attr-defined]
    handle_request.__wrapped__ = original  # type: ignore[attr-defined]
    handle_async_request._batch_debug_gate = True  # type: ignore[attr-defined]
    handle_async_request.__wrapped__ = async_original  # type: ignore[attr-defined]
    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
