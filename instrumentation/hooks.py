"""Hooks for opentelemetry-instrumentation-httpx: what the stock spans lack.

Requests inside a job never come here (the gate in ``transport`` records
them as ``exchange.Attempt``s); these hooks serve the stock spans of requests
made with debug on *outside* any job, which go only to OTLP viewers. The
stock instrumentation makes one CLIENT span per HTTP attempt with method,
URL and status. These hooks add, on recorded spans only:

- the URL with ``ApiKey``/``api_key`` redacted (the stock redaction misses them),
- the stable HTTP client convention attributes the stock span leaves out in
  its default (old) convention mode, as ``exchange`` writes them on ours:
  ``http.request.method``, ``url.full``, ``url.template``, ``server.address``,
  ``server.port``, ``user_agent.original``, ``http.response.status_code``,
  ``network.protocol.version``, ``http.response.body.size`` (from
  ``Content-Length``: the stock span ends before the body is read) and
  ``error.type`` for an answer >= 400; and the name ``{method} {url.template}``
  for a known Jellyfin route,
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

import httpx
from opentelemetry.instrumentation.httpx import RequestInfo, ResponseInfo
from opentelemetry.trace import Span

from ..collector import attributes as A
from ..collector.redact import redact_headers, redact_text, redact_url
from ..collector.routes import DEFAULT_PORTS, url_template
from ..collector.secrets import current_book
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


def _conventions(span: Span, request: RequestInfo, url: str) -> None:
    """The stable HTTP client attributes and span name (see the module doc)."""
    target = request.url if isinstance(request.url, httpx.URL) else httpx.URL(url)
    method = request.method.decode() if isinstance(request.method, bytes) else str(request.method)
    span.set_attribute(A.HTTP_METHOD_NEW, method)
    span.set_attribute(A.SERVER_ADDRESS, target.host)
    port = target.port or DEFAULT_PORTS.get(target.scheme)
    if port is not None:
        span.set_attribute(A.SERVER_PORT, port)
    template = url_template(target.path)
    if template is not None:
        span.set_attribute(A.URL_TEMPLATE, template)
        span.update_name(f"{method} {template}")
    agent = request.headers.get("user-agent") if request.headers is not None else None
    if agent:
        span.set_attribute(A.USER_AGENT, redact_text(agent, current_book().values()))


def _annotate_request(span: Span, request: RequestInfo, trace_cls: type[ConnectionTrace]) -> None:
    url = redact_url(str(request.url))
    attrs = getattr(span, "attributes", None) or {}
    for key in (A.HTTP_URL_OLD, A.HTTP_URL_NEW):
        if key in attrs:
            span.set_attribute(key, url)
    span.set_attribute(A.HTTP_URL_NEW, url)
    _conventions(span, request, url)
    if request.headers is not None:
        span.set_attribute(A.REQUEST_HEADERS, json.dumps(redact_headers(request.headers.multi_items())))
    if request.extensions is not None:
        request.extensions["trace"] = trace_cls(span, request.extensions.get("trace"))


def _annotate_response(span: Span, response: ResponseInfo) -> None:
    headers = response.headers
    span.set_attribute(A.HTTP_STATUS_NEW, response.status_code)
    if response.status_code >= 400:
        span.set_attribute(A.ERROR_TYPE, str(response.status_code))
    if headers is not None:
        length = headers.get("content-length")
        if length is not None and length.isdigit():
            span.set_attribute(A.BODY_SIZE, int(length))
        span.set_attribute(A.RESPONSE_HEADERS, json.dumps(redact_headers(headers.multi_items())))
        server = headers.get("server")
        if server:
            span.set_attribute(A.SERVER_HEADER, server)
    version = (response.extensions or {}).get("http_version")
    if version:
        text = version.decode() if isinstance(version, bytes) else str(version)
        span.set_attribute(A.HTTP_VERSION, text)
        span.set_attribute(A.PROTOCOL_VERSION, text[5:] if text.startswith("HTTP/") else text)


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
