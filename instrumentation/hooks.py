"""Hooks for opentelemetry-instrumentation-httpx: what the stock spans lack.

Requests inside a job never come here (the gate in ``transport`` records
them as ``exchange.Attempt``s); these hooks serve the stock spans of requests
made with debug on *outside* any job, which go only to OTLP viewers. The
stock instrumentation makes one CLIENT span per HTTP attempt with method,
URL and status. These hooks add, on recorded spans only:

- the URL with ``ApiKey``/``api_key`` redacted (the stock redaction misses them),
- redacted request and response headers, the ``Server`` header, HTTP version,
- new vs reused connection and connect / TLS / time-to-first-byte timings,
  from httpcore's ``trace`` extension,
- for status >= 400, the readable start of the body (redacted), read
  without taking the body away from the caller.

A hook must never break the request: each body runs under ``_guard``, which
logs and swallows our own errors.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.instrumentation.httpx import RequestInfo, ResponseInfo
from opentelemetry.trace import Span

from ..collector import attributes as A
from ..collector.redact import redact_headers, redact_url
from .body import peek_error_body, peek_error_body_async

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

    def observe_safely(self, name: str) -> None:
        """:meth:`observe`, its failure logged: a trace callback must not break the request."""
        try:
            self.observe(name)
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug connection trace failed")

    def __call__(self, name: str, info: dict[str, Any]) -> Any:
        self.observe_safely(name)
        return self.chained(name, info) if self.chained is not None else None


class AsyncConnectionTrace(ConnectionTrace):
    """The same callback for the async transport, which awaits it (and the callback it chains)."""

    __slots__ = ()

    async def __call__(self, name: str, info: dict[str, Any]) -> Any:
        self.observe_safely(name)
        return await self.chained(name, info) if self.chained is not None else None


def _annotate_request(span: Span, request: RequestInfo, trace_cls: type[ConnectionTrace]) -> None:
    url = redact_url(str(request.url))
    attrs = getattr(span, "attributes", None) or {}
    for key in (A.HTTP_URL_OLD, A.HTTP_URL_NEW):
        if key in attrs:
            span.set_attribute(key, url)
    if request.headers is not None:
        span.set_attribute(A.REQUEST_HEADERS, json.dumps(redact_headers(request.headers.multi_items())))
    if request.extensions is not None:
        request.extensions["trace"] = trace_cls(span, request.extensions.get("trace"))


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


@_guard
def request_hook(span: Span, request: RequestInfo) -> None:
    if span.is_recording():
        _annotate_request(span, request, ConnectionTrace)


@_guard
def response_hook(span: Span, request: RequestInfo, response: ResponseInfo) -> None:
    if span.is_recording():
        _annotate_response(span, response)
        if response.status_code >= 400:
            snippet = peek_error_body(response.stream)
            if snippet is not None:
                span.set_attribute(A.ERROR_BODY, snippet)


async def async_request_hook(span: Span, request: RequestInfo) -> None:
    if span.is_recording():
        _guard(_annotate_request)(span, request, AsyncConnectionTrace)


async def async_response_hook(span: Span, request: RequestInfo, response: ResponseInfo) -> None:
    if not span.is_recording():
        return
    _guard(_annotate_response)(span, response)
    if response.status_code >= 400:
        try:
            snippet = await peek_error_body_async(response.stream)
            if snippet is not None:
                span.set_attribute(A.ERROR_BODY, snippet)
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not read an error body; the request goes on")
