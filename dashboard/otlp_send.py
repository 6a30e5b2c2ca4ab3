"""Send finished spans to an OTLP/HTTP receiver and say, in one sentence, why it failed.

Usage::

    with OtlpSender(url, "http/protobuf", headers, timeout=10.0) as sender:
        for batch in batches(spans, 512):
            sender.send(batch)              # raises SendError("the receiver at URL refused ...: HTTP 401: ...")

- ``http/protobuf`` goes through OpenTelemetry's own ``OTLPSpanExporter``
  (opentelemetry-exporter-otlp-proto-http), with its retries of
  429/502/503/504 and of broken connections within ``timeout`` (a refused
  connection is final at once); the standard ``OTEL_EXPORTER_OTLP_*``
  variables (headers, compression, certificates) apply as the exporter reads them.
- ``http/json`` is OpenTelemetry's OTLP/JSON encoder
  (opentelemetry-exporter-otlp-json-common) plus one plain POST per batch, no
  retries. The OTLP/JSON HTTP exporter (opentelemetry-exporter-otlp-json-http)
  exists only at 0.66b1, which pins opentelemetry-exporter-otlp-common and
  -http-transport at 0.66b1 while the protobuf exporter of our pins (1.45.2)
  needs 0.66b2: the two do not install together.

The exporter reports only SUCCESS or FAILURE, so both paths send through a
:class:`RecordingSession` (the exporter's public ``session`` parameter): it
keeps the receiver's last status and the start of its body, or the
connection error. Everything is sent under OpenTelemetry's
suppress-instrumentation context: a process that also traces never records
its own export traffic. This module imports ``requests`` and protobuf; the
CLI imports it only when a command sends.
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
#: The exporter logs each failure and retry itself; the caller reports it once, as a sentence.
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


class OtlpSender:
    """One receiver, one protocol; use as a context manager (the connection pool is closed on exit)."""

    def __init__(self, url: str, protocol: str, headers: dict[str, str], timeout: float) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        self.url = url
        self.protocol = protocol
        self.timeout = timeout
        self.session = RecordingSession()
        self._json_headers = {"Content-Type": "application/json", **headers}
        self._exporter: Any = None
        if protocol == "http/protobuf":
            # Imported here: protobuf's generated classes load only when this path is taken.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._exporter = OTLPSpanExporter(endpoint=url, headers=headers, timeout=timeout, session=self.session)
        self._quiet = [_Quiet(name) for name in _EXPORTER_LOGGERS]

    def __enter__(self) -> OtlpSender:
        for quiet in self._quiet:
            quiet.enter()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for quiet in self._quiet:
            quiet.exit()
        self.session.close()

    def send(self, batch: Sequence[ReadableSpan]) -> None:
        """Deliver one batch, or raise :class:`SendError` saying why not."""
        with suppress_instrumentation():
            ok = self._send_protobuf(batch) if self._exporter is not None else self._send_json(batch)
        if not ok:
            raise SendError(self._failure())

    def _send_protobuf(self, batch: Sequence[ReadableSpan]) -> bool:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return self._exporter.export(batch) is SpanExportResult.SUCCESS

    def _send_json(self, batch: Sequence[ReadableSpan]) -> bool:
        from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans

        body = encode_spans(batch).to_json().encode()
        try:
            answer = self.session.post(self.url, data=body, headers=self._json_headers, timeout=self.timeout,
                                       allow_redirects=False)
        except (requests.RequestException, ConnectionRefused):
            return False
        return 200 <= answer.status_code < 300

    def _failure(self) -> str:
        session = self.session
        if session.last_status is not None:
            body = " ".join(session.last_body.split())[:BODY_QUOTE] or "(empty body)"
            return f"the receiver at {self.url} refused the spans: HTTP {session.last_status}: {body}"
        error = session.last_error
        if isinstance(error, requests.exceptions.Timeout):
            reason = f"no answer within {self.timeout:g} s"
        elif error is not None and _refused(error):
            reason = "connection refused (is the receiver running, and is this its port?)"
        elif isinstance(error, requests.exceptions.ConnectionError):
            reason = "could not connect (host unreachable, DNS failure or connection dropped)"
        elif error is not None:
            reason = type(error).__name__
        else:
            reason = "the exporter could not encode or send the spans"
        return f"cannot reach the OTLP receiver at {self.url}: {reason}"


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
