"""``POST /v1/traces``: the sidecar as an OTLP/HTTP receiver for workers on other hosts.

Usage (on a worker elsewhere)::

    OTEL_EXPORTER_OTLP_ENDPOINT=http://sidecar:8000 APHRODITE_BATCH_DEBUG_URL=http://sidecar:8000 \\
        batch-debug run-job --server ... ITEM_ID...

Spans arrive as the OTLP specification defines for HTTP: a protobuf
(``application/x-protobuf``) or OTLP/JSON (``application/json``)
``ExportTraceServiceRequest``, optionally with ``Content-Encoding: gzip``.
They are decoded to finished spans (``collector.otlp_decode``) and handed to
one :class:`~batch_debug.collector.assembler.JobAssembler` per app, which
writes job files into the app's ``DEBUG_DIR`` exactly as a local worker
would (one job = one trace; the file appears once the job span arrives).
The assembler keeps what waits for a job span bounded whatever senders do:
at most ``MAX_PENDING_TRACES`` traces, no file descriptor held per trace,
their spools inside the disk quota (``APHRODITE_BATCH_DEBUG_MAX_MB``), and a
timer that lets stale traces go even when nothing more arrives.

Answers, per the specification: 200 with an ``ExportTraceServiceResponse``
in the request's encoding; 400 for a malformed payload, with a
``google.rpc.Status`` in the request's encoding (for JSON also this API's
usual ``{"error": {...}}``); 415 for any other content type; 413 above
``MAX_BODY_BYTES``. When the app has an API token, this route needs it too
(``Authorization: Bearer <token>``), like every ``/api/`` route: the spans
become files anyone with the dashboard can read.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from google.protobuf.json_format import MessageToDict
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ..collector.assembler import MAX_PENDING_TRACES, JobAssembler
from ..collector.otlp_decode import JSON, MAX_DECODED_BYTES, PROTOBUF, OtlpDecodeError, decode_traces
from ..collector.otlp_schema import EXPORT_TRACE_REQUEST, EXPORT_TRACE_RESPONSE, OTLP_ERROR
from ..collector.writer_env import env_max_spans, writer_from_env
from . import auth
from .openapi import operation

logger = logging.getLogger(__name__)

bp = Blueprint("otlp", __name__)

ASSEMBLER_EXTENSION = "batch_debug_assembler"
MAX_BODY_BYTES = MAX_DECODED_BYTES
INVALID_ARGUMENT = 3  # google.rpc.Code
_lock = threading.Lock()

_BINARY = {"type": "string", "format": "binary"}
_REQUEST_BODY = {"required": True, "content": {PROTOBUF: {"schema": _BINARY},
                                               JSON: {"schema": EXPORT_TRACE_REQUEST}}}
_RESPONSES: dict[int, str | dict[str, Any]] = {
    200: {"description": "Accepted: an ExportTraceServiceResponse in the request's encoding",
          "content": {PROTOBUF: {"schema": _BINARY}, JSON: {"schema": EXPORT_TRACE_RESPONSE}}},
    400: {"description": "Malformed payload: a google.rpc.Status in the request's encoding",
          "content": {PROTOBUF: {"schema": _BINARY}, JSON: {"schema": OTLP_ERROR}}},
    413: "Error",
    415: "Error",
}


def assembler_for(app: Flask) -> JobAssembler:
    """The app's assembler, made (and its sweeper timer started) on first use; it writes into the app's
    ``DEBUG_DIR``."""
    found = app.extensions.get(ASSEMBLER_EXTENSION)
    if found is None:
        with _lock:
            found = app.extensions.get(ASSEMBLER_EXTENSION)
            if found is None:
                writer = writer_from_env(
                    Path(app.config["DEBUG_DIR"]),
                    debug_enabled=lambda: True,  # the spans were recorded because debug was on
                    clean_temp_files=False,  # the workers sharing the folder clean it when they start
                )
                found = JobAssembler(
                    writer, max_spans=env_max_spans(),
                    max_pending_traces=MAX_PENDING_TRACES,
                    sanitize=True)  # spans from anywhere: credentials learned and redacted
                found.start()  # stale traces go on a timer, also when no span arrives any more
                app.extensions[ASSEMBLER_EXTENSION] = found
    return found


@bp.before_request
def _guard() -> None:
    """The token (when the app has one), and room for OTLP batches above the app's small body limit."""
    auth._check_token(current_app.config.get("API_TOKEN"))  # noqa: SLF001 - the API's own check
    request.max_content_length = MAX_BODY_BYTES


def _answer(message: Any, encoding: str, status: int = 200) -> Response:
    if encoding == PROTOBUF:
        return Response(message.SerializeToString(), status=status, mimetype=PROTOBUF)
    return Response(json.dumps(MessageToDict(message)), status=status, mimetype=JSON)


def _bad_payload(reason: str, encoding: str) -> Response:
    logger.info("refused an OTLP payload: %s", reason)
    text = f"Malformed OTLP trace payload: {reason}"
    if encoding == PROTOBUF:
        return _answer(status_pb2.Status(code=INVALID_ARGUMENT, message=text), PROTOBUF, 400)
    body = {"code": INVALID_ARGUMENT, "message": text, "error": {"status": 400, "message": text}}
    return Response(json.dumps(body), status=400, mimetype=JSON)


@bp.post("/v1/traces")
@operation("OTLP/HTTP trace receiver: spans from workers anywhere become job files here",
           request_body=_REQUEST_BODY, responses=_RESPONSES, secured=True)
def traces() -> Any:
    """Receive an OTLP trace export (protobuf or JSON, gzip allowed) and assemble job files from it."""
    encoding = request.mimetype
    if encoding not in (PROTOBUF, JSON):
        abort(415, f"Send OTLP as {PROTOBUF} or {JSON}, not {encoding or 'no content type'!r}.")
    try:
        spans = decode_traces(request.get_data(cache=False), encoding, request.headers.get("Content-Encoding"))
    except OtlpDecodeError as exc:
        return _bad_payload(str(exc), encoding)
    assembler_for(current_app._get_current_object()).add(spans)  # type: ignore[attr-defined]
    return _answer(ExportTraceServiceResponse(), encoding)
