"""Hooks for opentelemetry-instrumentation-httpx: what the stock spans lack.

The stock instrumentation makes one CLIENT span per HTTP attempt with method,
URL and status. These hooks add, on recorded spans only:

- the URL with ``ApiKey``/``api_key`` redacted (the stock redaction misses them),
- redacted request and response headers, the ``Server`` header, HTTP version,
- the job's item id and ``http.request.resend_count`` (how many times this
  item already sent the same method + URL),
- new vs reused connection and connect / TLS / time-to-first-byte timings,
  from httpcore's ``trace`` extension,
- for status >= 400, the first 2 KB of the body (redacted), read without
  taking the body away from the caller.

A hook must never break the request: each body runs under ``_guard``, which
logs and swallows our own errors.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from opentelemetry.instrumentation.httpx import RequestInfo, ResponseInfo
from opentelemetry.trace import Span

from ..collector import attributes as A
from ..collector.redact import redact_headers, redact_text, redact_url
from .probe import start_probe
from .spans import current_item, current_job

logger = logging.getLogger(__name__)


def _guard(hook: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(hook)
    def wrapper(*args: Any) -> Any:
        try:
            return hook(*args)
        except Exception:  # noqa: BLE001 - telemetry never breaks the job
            logger.exception("batch-debug hook %s failed; the request goes on", hook.__name__)
            return None

    return wrapper


class ConnectionTrace:
    """httpcore ``trace`` callback: records connection reuse and timings on a span."""

    __slots__ = ("span", "chained", "new", "t_connect", "t_tls", "t_send")

    def __init__(self, span: Span, chained: Callable[[str, dict[str, Any]], Any] | None) -> None:
        self.span = span
        self.chained = chained
        self.new = False
        self.t_connect = self.t_tls = self.t_send = 0.0

    def observe(self, name: str) -> None:
        now = time.perf_counter()
        span = self.span
        if name == "connection.connect_tcp.started":
            self.t_connect = now
        elif name == "connection.connect_tcp.complete":
            self.new = True
            span.set_attribute(A.CONNECTION_REUSED, False)
            span.set_attribute(A.CONNECT_MS, round((now - self.t_connect) * 1000, 3))
        elif name == "connection.start_tls.started":
            self.t_tls = now
        elif name == "connection.start_tls.complete":
            span.set_attribute(A.TLS_MS, round((now - self.t_tls) * 1000, 3))
        elif name.endswith(".send_request_headers.started"):
            self.t_send = now
            if not self.new:
                span.set_attribute(A.CONNECTION_REUSED, True)
        elif name.endswith(".receive_response_headers.complete") and self.t_send:
            span.set_attribute(A.TTFB_MS, round((now - self.t_send) * 1000, 3))

    def __call__(self, name: str, info: dict[str, Any]) -> Any:
        try:
            self.observe(name)
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug connection trace failed")
        if self.chained is not None:
            return self.chained(name, info)
        return None


class AsyncConnectionTrace(ConnectionTrace):
    __slots__ = ()

    async def __call__(self, name: str, info: dict[str, Any]) -> Any:  # type: ignore[override]
        try:
            self.observe(name)
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug connection trace failed")
        if self.chained is not None:
            return await self.chained(name, info)
        return None


def _annotate_request(span: Span, request: RequestInfo, trace_cls: type[ConnectionTrace]) -> None:
    url = redact_url(str(request.url))
    attrs = getattr(span, "attributes", None) or {}
    for key in (A.HTTP_URL_OLD, A.HTTP_URL_NEW):
        if key in attrs:
            span.set_attribute(key, url)
    method = request.method.decode() if isinstance(request.method, bytes) else str(request.method)
    item, job = current_item.get(), current_job.get()
    scope = item or job
    if scope is not None:
        key = (method, url)
        sent_before = scope.attempts.get(key, 0)
        scope.attempts[key] = sent_before + 1
        span.set_attribute(A.RESEND_COUNT, sent_before)
    if item is not None:
        span.set_attribute(A.REQUEST_ITEM_ID, item.item_id)
    if request.headers is not None:
        span.set_attribute(A.REQUEST_HEADERS, json.dumps(redact_headers(request.headers.multi_items())))
    if request.extensions is not None:
        request.extensions["trace"] = trace_cls(span, request.extensions.get("trace"))
    if job is not None and job.probe is None:
        with job.lock:
            if job.probe is None:
                job.probe = start_probe(request.url)


def _annotate_response(span: Span, response: ResponseInfo) -> None:
    headers = response.headers
    if headers is not None:
        span.set_attribute(A.RESPONSE_HEADERS, json.dumps(redact_headers(headers.multi_items())))
        server = headers.get("server")
        if server:
            span.set_attribute(A.SERVER_HEADER, server)
    version = (response.extensions or {}).get("http_version")
    if version:
        span.set_attribute(A.HTTP_VERSION, version.decode() if isinstance(version, bytes) else str(version))


def _snippet(chunks: list[bytes]) -> str:
    raw = b"".join(chunks)[: A.ERROR_BODY_LIMIT]
    return redact_text(raw.decode("utf-8", errors="replace"))


class _ReplayStream:
    """Gives back the chunks we peeked at, then the rest of the original stream."""

    def __init__(self, head: list[bytes], rest: Any, original: Any, error: BaseException | None) -> None:
        self.head, self.rest, self.original, self.error = head, rest, original, error

    def __iter__(self) -> Iterator[bytes]:
        yield from self.head
        if self.error is not None:
            raise self.error
        if self.rest is not None:
            yield from self.rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.head:
            yield chunk
        if self.error is not None:
            raise self.error
        if self.rest is not None:
            async for chunk in self.rest:
                yield chunk

    def close(self) -> None:
        if hasattr(self.original, "close"):
            self.original.close()

    async def aclose(self) -> None:
        if hasattr(self.original, "aclose"):
            await self.original.aclose()


def _capture_error_body(span: Span, stream: Any) -> None:
    # httpx's ResponseStream wraps httpcore's stream in `_httpcore_stream`;
    # we peek at that and put a replay in its place, so the caller still
    # reads the whole body. Other stream types are left alone.
    inner = getattr(stream, "_httpcore_stream", None)
    if inner is None:
        return
    head: list[bytes] = []
    size, error, rest = 0, None, iter(inner)
    try:
        for chunk in rest:
            head.append(chunk)
            size += len(chunk)
            if size >= A.ERROR_BODY_LIMIT:
                break
        else:
            rest = None  # type: ignore[assignment]
    except Exception as exc:  # noqa: BLE001 - give it back to the caller when they read
        error, rest = exc, None  # type: ignore[assignment]
    stream._httpcore_stream = _ReplayStream(head, rest, inner, error)
    span.set_attribute(A.ERROR_BODY, _snippet(head))


async def _capture_error_body_async(span: Span, stream: Any) -> None:
    inner = getattr(stream, "_httpcore_stream", None)
    if inner is None:
        return
    head: list[bytes] = []
    size, error = 0, None
    rest: Any = inner.__aiter__()
    try:
        while size < A.ERROR_BODY_LIMIT:
            try:
                chunk = await rest.__anext__()
            except StopAsyncIteration:
                rest = None
                break
            head.append(chunk)
            size += len(chunk)
    except Exception as exc:  # noqa: BLE001
        error, rest = exc, None
    stream._httpcore_stream = _ReplayStream(head, _AsyncRest(rest) if rest else None, inner, error)
    span.set_attribute(A.ERROR_BODY, _snippet(head))


class _AsyncRest:
    def __init__(self, iterator: Any) -> None:
        self.iterator = iterator

    def __aiter__(self) -> Any:
        return self.iterator


@_guard
def request_hook(span: Span, request: RequestInfo) -> None:
    if span.is_recording():
        _annotate_request(span, request, ConnectionTrace)


@_guard
def response_hook(span: Span, request: RequestInfo, response: ResponseInfo) -> None:
    if span.is_recording():
        _annotate_response(span, response)
        if response.status_code >= 400:
            _capture_error_body(span, response.stream)


async def async_request_hook(span: Span, request: RequestInfo) -> None:
    if span.is_recording():
        _guard(_annotate_request)(span, request, AsyncConnectionTrace)


async def async_response_hook(span: Span, request: RequestInfo, response: ResponseInfo) -> None:
    if not span.is_recording():
        return
    _guard(_annotate_response)(span, response)
    if response.status_code >= 400:
        try:
            await _capture_error_body_async(span, response.stream)
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not read an error body; the request goes on")
