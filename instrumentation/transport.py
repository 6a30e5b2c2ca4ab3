"""The gate in front of httpx's transports, and the lean path for job requests.

``install_gate`` replaces ``HTTPTransport.handle_request`` (and the async
twin), which opentelemetry-instrumentation-httpx has already wrapped, with a
function that picks one of three paths per request:

- no recorded job in the current context and debug off: the original,
  uninstrumented method. Cost: one ``ContextVar.get`` and the switch's cached
  check, so "debug off" costs about nothing;
- a recorded job in the current context: :func:`_traced`, our own lean span
  for the attempt (same semantic-convention attribute names as the stock
  instrumentation, plus ours), which hands its request record straight to the
  job's processor instead of re-deriving it from span attributes later, and
  also carries it on the span as compact JSON (``batch_debug.record``) for
  whoever assembles the job from spans alone (an exporter plugin, a sidecar
  receiving OTLP from other hosts);
- debug on outside any job: the stock instrumented method (with our hooks),
  so those requests still reach an OTLP viewer.

Why not the stock path for job requests too: measured here, the stock
instrumentation alone costs about a third of a plain request (it parses the
URL twice, normalises every header for capture and builds metric
attributes); the lean path records more for less.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..collector import attributes as A
from ..collector.redact import redact_headers, redact_url
from .body import peek_error_body, peek_error_body_async
from .lean import exception_event
from .probe import start_probe
from .spans import JobState, current_item, current_job

logger = logging.getLogger(__name__)

_UNSET = Status()
# One encoder, built once: json.dumps with arguments builds a new one per call.
_encode_record = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_EVENTS = {
    "connection.connect_tcp.started": 0, "connection.connect_tcp.complete": 1,
    "connection.start_tls.started": 2, "connection.start_tls.complete": 3,
    "http11.send_request_headers.started": 4, "http2.send_request_headers.started": 4,
    "http11.receive_response_headers.complete": 5, "http2.receive_response_headers.complete": 5,
}


class _Timings:
    """httpcore ``trace`` callback that only stamps times; attributes are set once at the end."""

    __slots__ = ("stamps", "chained")

    def __init__(self, chained: Callable[..., Any] | None) -> None:
        self.stamps = [0.0] * 6
        self.chained = chained

    def __call__(self, name: str, info: dict[str, Any]) -> Any:
        index = _EVENTS.get(name)
        if index is not None:
            self.stamps[index] = time.perf_counter()
        return self.chained(name, info) if self.chained is not None else None

    def results(self) -> tuple[bool | None, float | None, float | None, float | None]:
        """(connection reused, connect ms, tls ms, time to first byte ms)."""
        s = self.stamps
        if not s[4]:
            return None, None, None, None
        new = bool(s[1])
        connect = round((s[1] - s[0]) * 1000, 3) if new else None
        tls = round((s[3] - s[2]) * 1000, 3) if s[3] else None
        ttfb = round((s[5] - s[4]) * 1000, 3) if s[5] else None
        return not new, connect, tls, ttfb


class _AsyncTimings(_Timings):
    __slots__ = ()

    async def __call__(self, name: str, info: dict[str, Any]) -> Any:  # type: ignore[override]
        index = _EVENTS.get(name)
        if index is not None:
            self.stamps[index] = time.perf_counter()
        return await self.chained(name, info) if self.chained is not None else None


class _Attempt:
    """One traced HTTP attempt: the span it becomes and its request record."""

    __slots__ = ("job", "context", "parent", "attrs", "record", "timings", "start", "start_ns", "status",
                 "events")

    def __init__(self, job: JobState, request: httpx.Request, timings_cls: type[_Timings]) -> None:
        self.job = job
        item = current_item.get()
        url = str(request.url)
        if "?" in url or "@" in url:
            url = redact_url(url)
        method = request.method
        scope = item or job
        key = (method, url)
        sent_before = scope.attempts.get(key, 0)
        scope.attempts[key] = sent_before + 1
        item_id = item.item_id if item is not None else None
        self.parent = parent = trace.get_current_span().get_span_context()
        self.context = job.lean.context(parent)
        self.attrs: dict[str, Any] = {A.HTTP_METHOD_NEW: method, A.HTTP_URL_NEW: url}
        if sent_before:
            # Semantic conventions: set only on resends.
            self.attrs[A.RESEND_COUNT] = sent_before
        if item_id is not None:
            self.attrs[A.REQUEST_ITEM_ID] = item_id
        self.timings = timings_cls(request.extensions.get("trace"))
        request.extensions["trace"] = self.timings
        self.status = _UNSET
        self.events: list[Any] = []
        self.start_ns = time.time_ns()
        self.record: dict[str, Any] = {
            "item_id": item_id, "attempt": sent_before + 1, "method": method, "url": url,
            "status_code": None, "error_type": None, "duration_ms": None,
            "start_offset_ms": round((self.start_ns - job.start_ns) / 1e6, 3),
            "connection_reused": None, "http_version": None, "server": None, "ttfb_ms": None,
            "span_id": f"{self.context.span_id:016x}",
        }
        if job.probe is None:
            with job.lock:
                if job.probe is None:
                    job.probe = start_probe(request.url)
        self.start = time.perf_counter()

    def failed(self, exc: BaseException, request: httpx.Request) -> None:
        event, message = exception_event(exc, time.time_ns())
        self.events.append(event)
        self.status = Status(StatusCode.ERROR, message[:500])
        error_type = type(exc).__name__
        self.attrs[A.ERROR_TYPE] = error_type
        self.record.update(error_type=error_type, request_headers=redact_headers(request.headers.multi_items()))
        self.end()

    def answered(self, request: httpx.Request, response: httpx.Response) -> None:
        status = response.status_code
        headers = response.headers
        record = self.record
        version = response.extensions.get("http_version")
        record.update(status_code=status, server=headers.get("server"),
                      http_version=version.decode() if isinstance(version, bytes) else version)
        self.attrs[A.HTTP_STATUS_NEW] = status
        if status >= 400:
            # Headers where they help: on failed attempts, in the record (and body on the span).
            record.update(request_headers=redact_headers(request.headers.multi_items()),
                          response_headers=redact_headers(headers.multi_items()))
            if "retry-after" in headers:
                record["retry_after"] = headers["retry-after"]
            self.attrs[A.ERROR_TYPE] = str(status)
            self.status = Status(StatusCode.ERROR)

    def error_body(self, snippet: str | None) -> None:
        if snippet is not None:
            self.record["error_body"] = snippet
            self.attrs[A.ERROR_BODY] = snippet

    def end(self) -> None:
        record, attrs = self.record, self.attrs
        reused, connect, tls, ttfb = self.timings.results()
        record["connection_reused"] = reused
        record["ttfb_ms"] = ttfb
        record["duration_ms"] = round((time.perf_counter() - self.start) * 1000, 3)
        if reused is not None:
            attrs[A.CONNECTION_REUSED] = reused
        if connect is not None:
            # Present only when the attempt opened a connection (likewise TLS).
            record["connect_ms"] = attrs[A.CONNECT_MS] = connect
        if tls is not None:
            record["tls_ms"] = attrs[A.TLS_MS] = tls
        if ttfb is not None:
            attrs[A.TTFB_MS] = ttfb
        # The record rides on the span too, so exporters and other processes can build the job from spans.
        attrs[A.RECORD] = _encode_record(record)
        job = self.job
        job.add_request(record)
        job.lean.emit(record["method"], self.context, self.parent, attrs, kind=SpanKind.CLIENT,
                      start_ns=self.start_ns, end_ns=time.time_ns(), status=self.status, events=self.events)


def _traced(original: Callable[..., Any], transport: Any, request: httpx.Request, job: JobState) -> Any:
    try:
        attempt = _Attempt(job, request, _Timings)
    except Exception:  # noqa: BLE001 - our failure must not become the request's
        logger.exception("batch-debug could not trace a request; it goes on untraced")
        return original(transport, request)
    try:
        response = original(transport, request)
    except Exception as exc:
        _safely(attempt.failed, exc, request)
        raise
    try:
        attempt.answered(request, response)
        if response.status_code >= 400:
            attempt.error_body(peek_error_body(response.stream))
        attempt.end()
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not record a response; the request goes on")
    return response


async def _traced_async(original: Callable[..., Any], transport: Any, request: httpx.Request,
                        job: JobState) -> Any:
    try:
        attempt = _Attempt(job, request, _AsyncTimings)
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not trace a request; it goes on untraced")
        return await original(transport, request)
    try:
        response = await original(transport, request)
    except Exception as exc:
        _safely(attempt.failed, exc, request)
        raise
    try:
        attempt.answered(request, response)
        if response.status_code >= 400:
            attempt.error_body(await peek_error_body_async(response.stream))
        attempt.end()
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not record a response; the request goes on")
    return response


def _safely(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not record a failed request")


def install_gate(is_on: Callable[[], bool]) -> None:
    """Put the gate in front of the (already instrumented) httpx transports.

    ``is_on`` is the debug switch's cheap check. Idempotent.
    """
    sync_current = httpx.HTTPTransport.handle_request
    if getattr(sync_current, "_batch_debug_gate", False):
        return
    original = getattr(sync_current, "__wrapped__", sync_current)
    instrumented = sync_current

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        job = current_job.get()
        if job is not None:
            return _traced(original, self, request, job)
        if is_on():
            return instrumented(self, request)
        return original(self, request)

    async_current = httpx.AsyncHTTPTransport.handle_async_request
    async_original = getattr(async_current, "__wrapped__", async_current)
    async_instrumented = async_current

    async def handle_async_request(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        job = current_job.get()
        if job is not None:
            return await _traced_async(async_original, self, request, job)
        if is_on():
            return await async_instrumented(self, request)
        return await async_original(self, request)

    for fn, orig in ((handle_request, original), (handle_async_request, async_original)):
        fn._batch_debug_gate = True  # type: ignore[attr-defined]
        fn.__wrapped__ = orig  # type: ignore[attr-defined] - lets uninstrument() unwrap to the original
    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
