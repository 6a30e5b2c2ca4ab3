"""Send finished spans to an OTLP/HTTP receiver and say, in one sentence, why it failed.

Usage::

    with OtlpSender(url, "http/protobuf", headers, timeout=10.0) as sender:
        for batch in batches(spans, 512):
            sender.send(batch)              # raises SendError("the receiver at URL refused ...: HTTP 401: ...")

Both protocols go through OpenTelemetry's own ``OTLPSpanExporter``, with its
retries of 429/502/503/504 and of broken connections within ``timeout``;
the standard ``OTEL_EXPORTER_OTLP_*`` variables (headers, compression,
certificates) apply as each exporter reads them. A refused connection
(nothing listens at the URL) is final at once with both: retrying it until
the deadline would only make the user wait.

- ``http/protobuf``: opentelemetry-exporter-otlp-proto-http. It reports only
  SUCCESS or FAILURE, so it sends through a :class:`RecordingSession` (its
  public ``session`` parameter), which keeps the receiver's last status and
  the start of its body, or the connection error, and turns a refused
  connection into an error the exporter does not retry.
- ``http/json``: opentelemetry-exporter-otlp-json-http (0.66b1, on urllib3
  through opentelemetry-exporter-http-transport). It takes no session; what
  it does say about a failed batch is in the records it logs (the status and
  the HTTP reason phrase, or the connection error), so :class:`_ExporterNotes`
  keeps those. The receiver's body is not among them: a refusal over JSON
  reads ``HTTP 413: Request Entity Too Large``. On its "retrying" notice for
  a refused connection the notes shut the exporter down, which ends its
  backoff wait at once (``shutdown()`` aborts retries, by its contract).

Everything is sent under OpenTelemetry's suppress-instrumentation context: a
process that also traces never records its own export traffic. This module
imports ``requests``, urllib3 and protobuf; the CLI imports it only when a
command sends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan

PROTOCOLS = ("http/protobuf", "http/json")
#: Characters of a refusing receiver's body quoted in the error.
BODY_QUOTE = 200
#: The protobuf exporter logs each failure and retry itself; the caller reports it once, as a sentence.
#: (The JSON exporter's records go to :class:`_ExporterNotes` instead, which reads them.)
_EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp.proto.http", "opentelemetry.exporter.otlp.common")


class SendError(Exception):
    """A batch was not accepted; the message names the URL and the reason (never a header value)."""


class ConnectionRefused(Exception):
    """Nothing listens at the URL (not a ``requests.ConnectionError``, so the exporter does not retry it)."""


def _refused(error: BaseException) -> bool:
    """Whether ``error`` (a ``requests`` error, through urllib3's wrappers) is a refused TCP connection."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        inner = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
        if inner is None and seen.args and isinstance(seen.args[0], BaseException):
            inner = seen.args[0]
        seen = inner if isinstance(inner, BaseException) else None
    return False


class RecordingSession(requests.Session):
    """A ``requests`` session that keeps the last answer or connection error, for the error line."""

    def __init__(self) -> None:
        super().__init__()
        self.last_status: int | None = None
        self.last_body = ""
        self.last_error: Exception | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.last_status, self.last_body, self.last_error = None, "", None
        try:
            response = super().send(request, **kwargs)
        except Exception as exc:
            self.last_error = exc
            if _refused(exc):
                # Nobody listens there: the exporter would retry connection errors until its timeout
                # (for a dropped pooled connection); a refusal is final, so it surfaces at once.
                raise ConnectionRefused(str(request.url)) from exc
            raise
        self.last_status = response.status_code
        self.last_body = _readable_body(response) if response.status_code >= 300 else ""
        return response


def _readable_body(response: requests.Response) -> str:
    """The start of an error answer as text; a protobuf ``google.rpc.Status`` (what an OpenTelemetry
    Collector answers a protobuf request with) as its message."""
    if response.headers.get("Content-Type", "").startswith("application/x-protobuf"):
        from google.protobuf.message import DecodeError
        from google.rpc.status_pb2 import Status

        status = Status()
        try:
            status.ParseFromString(response.content)
        except DecodeError:
            return "(a protobuf body that is not a google.rpc.Status)"
        return status.message[:BODY_QUOTE * 2]
    return response.text[:BODY_QUOTE * 2]


class _ExporterNotes(logging.Handler):
    """What the OTLP/JSON exporter logs about a failed batch: the answer's status and reason phrase, or the
    connection error. Attached to the exporter's logger while sending; records reach other handlers only
    when the process logs at INFO (``batch-debug -v``)."""

    LOGGER = "opentelemetry.exporter.otlp.json.http.trace_exporter"

    def __init__(self, exporter: Any) -> None:
        super().__init__(logging.DEBUG)
        self.exporter = exporter
        self.status: int | None = None
        self.reason = ""
        self.error: BaseException | None = None
        self.stopped = False
        self.logger = logging.getLogger(self.LOGGER)
        self._saved = (self.logger.level, self.logger.propagate)

    def attach(self) -> None:
        self._saved = (self.logger.level, self.logger.propagate)
        if not self.logger.isEnabledFor(logging.WARNING):
            self.logger.setLevel(logging.WARNING)
        self.logger.propagate = logging.getLogger().isEnabledFor(logging.INFO)
        self.logger.addHandler(self)

    def detach(self) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._saved[0])
        self.logger.propagate = self._saved[1]

    def clear(self) -> None:
        self.status, self.reason, self.error = None, "", None

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, BaseException):
                self.error = arg
        message = str(record.msg)
        # "Failed to export %s batch code: %s, reason: %s" (kind, status or None, reason phrase or error)
        if "code: %s" in message and len(args) == 3 and isinstance(args[1], int):
            self.status, self.reason = args[1], args[2] if isinstance(args[2], str) else ""
        # "Transient error %s encountered ..." (reason phrase of a 429/502/503/504, or the error), then retried
        elif message.startswith("Transient error") and args and isinstance(args[0], str):
            self.reason = args[0]
        if self.error is not None and _refused(self.error) and not self.stopped:
            self.stop()  # logged just before the backoff wait, which shutdown() ends

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.exporter.shutdown()


class OtlpSender:
    """One receiver, one protocol; use as a context manager (the exporter and its connections are closed on exit)."""

    def __init__(self, url: str, protocol: str, headers: dict[str, str], timeout: float) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        self.url = url
        self.protocol = protocol
        self.timeout = timeout
        self.session = RecordingSession()
        self._notes: _ExporterNotes | None = None
        # Imported here: each exporter (and protobuf's generated classes) loads only when its path is taken.
        if protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._exporter: Any = OTLPSpanExporter(endpoint=url, headers=headers, timeout=timeout,
                                                   session=self.session)
        else:
            from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonExporter

            self._exporter = JsonExporter(endpoint=url, headers=headers, timeout=timeout)
            self._notes = _ExporterNotes(self._exporter)
        self._quiet = [_Quiet(name) for name in _EXPORTER_LOGGERS]

    def __enter__(self) -> OtlpSender:
        for quiet in self._quiet:
            quiet.enter()
        if self._notes is not None:
            self._notes.attach()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for quiet in self._quiet:
            quiet.exit()
        if self._notes is not None:
            self._notes.stop()  # closes the exporter's connection pool
            self._notes.detach()
        self.session.close()

    def send(self, batch: Sequence[ReadableSpan]) -> None:
        """Deliver one batch, or raise :class:`SendError` saying why not."""
        from opentelemetry.sdk.trace.export import SpanExportResult

        if self._notes is not None:
            self._notes.clear()
        with suppress_instrumentation():
            ok = self._exporter.export(batch) is SpanExportResult.SUCCESS
        if not ok:
            raise SendError(self._failure())

    def _failure(self) -> str:
        notes = self._notes
        if notes is not None:
            status, body, error = notes.status, " ".join(notes.reason.split()), notes.error
        else:
            session = self.session
            status, body, error = session.last_status, " ".join(session.last_body.split()), session.last_error
        if status is not None:
            return f"the receiver at {self.url} refused the spans: HTTP {status}: {body[:BODY_QUOTE] or '(empty body)'}"
        if body:  # the JSON exporter's retries of a busy receiver ran out
            return f"the receiver at {self.url} did not take the spans within {self.timeout:g} s: {body[:BODY_QUOTE]}"
        if error is None:
            # Nothing says the receiver was out of reach: the exporter gave up (its deadline) without a word.
            return (f"the receiver at {self.url} did not take the spans within {self.timeout:g} s; the OTLP "
                    f"exporter gave no reason (batch-debug -v export ... shows its log)")
        return f"cannot reach the OTLP receiver at {self.url}: {self._reason(error)}"

    def _reason(self, error: BaseException | None) -> str:
        import urllib3.exceptions

        if error is None:
            return "the exporter could not encode or send the spans"
        if _refused(error):
            return "connection refused (is the receiver running, and is this its port?)"
        cause = getattr(error, "reason", None)  # urllib3's MaxRetryError wraps the real error
        for seen in (error, cause):
            if isinstance(seen, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
                return f"no answer within {self.timeout:g} s"
        for seen in (error, cause):
            if isinstance(seen, (requests.exceptions.ConnectionError, urllib3.exceptions.HTTPError, OSError)):
                return "could not connect (host unreachable, DNS failure or connection dropped)"
        return type(error).__name__


class _Quiet:
    """Silences one logger (CRITICAL only) for a while, unless the process logs at INFO (``batch-debug -v``)."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)
        self.saved = self.logger.level

    def enter(self) -> None:
        self.saved = self.logger.level
        if not logging.getLogger().isEnabledFor(logging.INFO):
            self.logger.setLevel(logging.CRITICAL)

    def exit(self) -> None:
        self.logger.setLevel(self.saved)
