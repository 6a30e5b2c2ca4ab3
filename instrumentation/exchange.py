"""One HTTP attempt, from the request to the last byte of its body: the record builder.

Every request recorded inside a job goes through :class:`Attempt` (the
gate in ``transport`` sends it here); nothing else builds request records.
An attempt becomes one finished CLIENT span whose attributes are the
request record (see ``collector.records``, which reads it back).

What the attempt covers:

- *before the answer*: the credential the request carries is learned as a
  secret (before anything is recorded) and fingerprinted; connection reuse
  and connect / TLS / time-to-first-byte from httpcore's ``trace``
  extension; a failure here (no response) ends the attempt with the phase it
  failed in: ``pool``, ``connect``, ``send`` or ``headers``, or ``aborted``
  when the job itself ended it (closed its client under it, or cancelled it);
- *the answer*: status, ``Server``, HTTP version, ``Connection: close``,
  a redirect's target; on status >= 400 the redacted headers and the start
  of the body (read ahead, up to ``bodytext.CAPTURE_LIMIT``, and given back
  to the caller untouched, so an error body is kept even if the job never
  reads it);
- *the body*: the response's stream is wrapped (``streams.RecordedBody``), so
  bytes received, the time of the last byte and an error while reading
  (``phase: body``: a stall, a connection cut mid-body) belong to the
  attempt. The attempt ends when the response is closed (httpx closes it
  once the body is read), or when its job ends, whichever comes first.

The span follows the stable HTTP client semantic conventions: it is named
``{method} {url.template}`` for a known Jellyfin route (``GET
/Items/{itemId}/Images/Primary``; just ``{method}`` otherwise) and carries
``http.request.method``, ``url.full`` (redacted), ``url.template``,
``server.address``, ``server.port``, ``user_agent.original``,
``http.response.status_code``, ``network.protocol.version``,
``http.response.body.size`` (bytes received, as sent: before any content
decoding) and ``error.type``. Status ERROR for an answer >= 400 (no
description, as the conventions say) or an exception, whose description
names it and the phase it broke in ("ReadTimeout while reading the body").

The answer's words (an error body, a login's token, a 2xx body that is no
poster) are read when the attempt ends, by ``answer_words``.

Nothing here may break the request: callers wrap every call in ``try``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..collector import attributes as A, bodytext
from ..collector.body_kind import SNIFF_BYTES
from ..collector.jsontext import compact
from ..collector.records import ERROR_MESSAGE_CHARS
from ..collector.redact import redact_headers, redact_text, redact_url
from ..collector.routes import DEFAULT_PORTS, url_template
from ..collector.secrets import credentials, effective
from .answer_words import read_capture, tell_body, textual
from .lean import exception_event
from .probe import start_probe
from .views import RequestView
from .wire import Timings, connection_figures, header_values, ms
from .jobstate import JobState, current_item, runner_name

_UNSET = Status()
_ERROR = Status(StatusCode.ERROR)
_LOGIN_PATH = "/users/authenticatebyname"
_USER_AGENT = frozenset({b"user-agent"})
#: The status description of an exception, by the phase it broke in (``error_phase``).
_WHILE = {"pool": "while waiting for a pooled connection", "connect": "while connecting",
          "send": "while sending the request", "headers": "while waiting for the answer",
          "body": "while reading the body", "aborted": "(the job ended the request)"}


def _phase(exc: BaseException, stamps: list[float]) -> str:
    """Where an attempt without a response failed."""
    name = type(exc).__name__
    if name == "PoolTimeout":
        return "pool"
    if name.startswith("Connect") or (stamps[0] and not stamps[1]) or (stamps[2] and not stamps[3]):
        return "connect"
    if name.startswith("Write"):
        return "send"
    return "headers"


class Attempt:
    """One traced HTTP attempt of a job (see the module doc)."""

    __slots__ = ("job", "context", "parent", "attrs", "extras", "timings", "start", "start_ns", "status",
                 "events", "headers_at", "last_byte", "body_bytes", "capture", "response", "body_done",
                 "failed_in", "transport", "name", "first", "sniffed")

    def __init__(self, job: JobState, request: httpx.Request | RequestView, timings_cls: type[Timings],
                 transport: Any = None) -> None:
        self.job = job
        self.transport = transport
        item = current_item.get()
        url = str(request.url)
        if "?" in url or "@" in url:
            url = redact_url(url)
        method = request.method
        scope = item or job
        key = (method, url)
        sent_before = scope.attempts.get(key, 0)
        scope.attempts[key] = sent_before + 1
        self.parent = parent = trace.get_current_span().get_span_context()
        self.context = job.lean.context(parent)
        target = request.url
        template = url_template(target.path)
        self.name = f"{method} {template}" if template is not None else method
        self.attrs: dict[str, Any] = {A.HTTP_METHOD_NEW: method, A.HTTP_URL_NEW: url, A.SERVER_ADDRESS: target.host}
        port = target.port or DEFAULT_PORTS.get(target.scheme)  # httpx leaves a scheme's default port out
        if port is not None:
            self.attrs[A.SERVER_PORT] = port
        if template is not None:
            self.attrs[A.URL_TEMPLATE] = template
        agent = header_values(request.headers, _USER_AGENT).get(b"user-agent")
        if agent is not None:
            self.attrs[A.USER_AGENT] = redact_text(agent.decode("latin-1"), job.secrets.values())
        if sent_before:
            self.attrs[A.RESEND_COUNT] = sent_before  # semantic conventions: only on resends
        # The item id rides in the record (its parent, the item span, names it too): one attribute less to encode.
        self.extras: dict[str, Any] = {"item_id": item.item_id} if item is not None else {}
        runner = runner_name()
        if item is None or runner != item.thread:
            # Only where it differs from its item's (an item's attempts fanned out to other threads or tasks):
            # the item record names the usual one, and a name per attempt would cost every file bytes.
            self.extras["thread"] = runner
        found = credentials(request.headers, request.url.query)
        if found:
            # Learned before anything about this request is recorded.
            for value in found.values():
                job.secrets.learn(value)
            form, value = effective(found)  # type: ignore[misc]
            self.extras["credential_form"] = form
            self.extras["credential_fp"] = job.fingerprint(value)
        self.timings = timings_cls(request.extensions.get("trace"))
        request.extensions["trace"] = self.timings
        self.status = _UNSET
        self.events: list[Any] = []
        self.headers_at = self.last_byte = 0.0
        self.body_bytes = 0
        self.capture: list[bytes] | None = None
        self.first: bytes | None = None  # the start of the body's first chunk (``body_kind.SNIFF_BYTES``)
        self.sniffed: dict[bytes, bytes] | None = None  # a 2xx GET's answer headers: its body is told apart
        self.response: httpx.Response | None = None
        self.body_done = False
        self.failed_in: str | None = None
        if job.probe is None:
            with job.lock:
                if job.probe is None:
                    job.probe = start_probe(request.url)
        self.start_ns = time.time_ns()
        self.extras["start_offset_ms"] = round((self.start_ns - job.start_ns) / 1e6, 3)
        self.start = time.perf_counter()

    # -- the request failed before an answer --------------------------------------
    def _aborted(self, exc: BaseException) -> bool:
        """The job ended this attempt itself: it closed the client under it, or cancelled it."""
        return (getattr(self.transport, "_batch_debug_closed", False)
                or not isinstance(exc, Exception))  # CancelledError, KeyboardInterrupt, SystemExit

    def failed(self, exc: BaseException, request: httpx.Request | RequestView) -> None:
        self._error(exc, "aborted" if self._aborted(exc) else _phase(exc, self.timings.stamps))
        self.extras["request_headers"] = redact_headers(request.headers.multi_items())
        self._emit(time.perf_counter())

    def _error(self, exc: BaseException, phase: str) -> None:
        event, message = exception_event(exc, time.time_ns(), self.job.secrets.values())
        self.events.append(event)
        # The error's words, redacted (``collector.net_errors`` reads TLS, DNS and refusals in them).
        self.extras["error_message"] = message[:ERROR_MESSAGE_CHARS]
        name = type(exc).__name__
        self.status = Status(StatusCode.ERROR, f"{name} {_WHILE.get(phase, 'while waiting for the answer')}")
        self.attrs[A.ERROR_TYPE] = name
        self.extras["error_phase"] = self.failed_in = phase

    # -- the answer ------------------------------------------------------------------
    def answered(self, request: httpx.Request | RequestView, response: httpx.Response) -> bool:
        """Note the answer's head; True when its body should be read ahead (status >= 400)."""
        self.headers_at = time.perf_counter()
        self.response = response
        status = response.status_code
        headers = response.headers
        wanted = header_values(headers)
        extras = self.extras
        self.attrs[A.HTTP_STATUS_NEW] = status
        server = wanted.get(b"server")
        if server is not None:
            extras["server"] = server.decode("latin-1")
        version = response.extensions.get("http_version")
        if version is not None:
            extras["http_version"] = text = version.decode() if isinstance(version, bytes) else version
            self.attrs[A.PROTOCOL_VERSION] = text[5:] if text.startswith("HTTP/") else text
        connection = wanted.get(b"connection")
        if connection is not None and connection.lower() == b"close":
            extras["conn_close"] = True
        if 300 <= status < 400:
            location = wanted.get(b"location")
            if location:
                extras["redirect_to"] = redact_url(location.decode("latin-1"))
        elif status >= 400:
            extras["request_headers"] = redact_headers(request.headers.multi_items())
            extras["response_headers"] = redact_headers(headers.multi_items())
            if b"retry-after" in wanted:
                extras["retry_after"] = wanted[b"retry-after"].decode("latin-1")
            content_type = wanted.get(b"content-type")
            extras["content_type"] = content_type.decode("latin-1") if content_type is not None else None
            self.attrs[A.ERROR_TYPE] = str(status)
            self.status = _ERROR
        login = status == 200 and request.url.path.lower().endswith(_LOGIN_PATH)
        if status >= 400 or login:
            # Error bodies for the record; a login's answer for its AccessToken.
            self.capture = []
        elif 200 <= status < 300 and request.method == "GET":  # a 204 where a poster was asked for is empty
            # What the body is will be told from its first bytes (a sign-in page where a poster was asked for);
            # one that says it is text is kept (as an error body is) for its words.
            self.sniffed = wanted
            if textual(wanted.get(b"content-type")):
                self.capture = []
        self.job.open[self] = True
        return status >= 400 and request.method != "HEAD"

    # -- the body ----------------------------------------------------------------------
    def received(self, chunk: bytes) -> None:
        if not self.body_bytes:
            self.first = chunk[:SNIFF_BYTES]
        self.body_bytes += len(chunk)
        capture = self.capture
        if capture is not None and self.body_bytes - len(chunk) < bodytext.CAPTURE_LIMIT:
            capture.append(chunk)

    def body_complete(self) -> None:
        self.last_byte = time.perf_counter()
        self.body_done = True

    def body_failed(self, exc: BaseException) -> None:
        self.last_byte = time.perf_counter()
        self._error(exc, "aborted" if self._aborted(exc) else "body")

    def finish(self) -> None:
        """End the attempt (the response was closed, or its job ended); safe to call twice."""
        if self.job.open.pop(self, None) is None:
            return
        end = time.perf_counter()
        extras = self.extras
        extras["body_bytes"] = self.attrs[A.BODY_SIZE] = self.body_bytes
        if self.last_byte:
            extras["body_ms"] = ms(self.last_byte - self.headers_at)
        if not self.body_done and self.failed_in is None:
            extras["body_complete"] = False  # closed (or abandoned) before its end: not a failure
        if self.sniffed is not None and self.failed_in is None:
            tell_body(self)
        elif self.capture is not None:
            read_capture(self)
        self._emit(end)

    def _emit(self, end: float) -> None:
        reused, connect, tls, ttfb = connection_figures(self.timings.stamps)
        extras = self.extras
        if reused is not None:
            extras["connection_reused"] = reused
        if connect is not None:
            extras["connect_ms"] = connect  # present only when the attempt opened a connection
        if tls is not None:
            extras["tls_ms"] = tls
        if ttfb is not None:
            extras["ttfb_ms"] = ttfb
        attrs = self.attrs
        attrs[A.RECORD] = compact(extras)
        end_ns = self.start_ns + int((end - self.start) * 1e9)
        self.job.deliver(self.job.lean.build(
            self.name, self.context, self.parent, attrs, kind=SpanKind.CLIENT,
            start_ns=self.start_ns, end_ns=end_ns, status=self.status, events=self.events))
