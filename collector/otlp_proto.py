"""A job's spans as an OTLP ``ExportTraceServiceRequest``: OTLP/JSON text or binary protobuf.

Usage::

    spans = jobfile.load(path)["resourceSpans"]
    text = otlp_json(spans)          # {"resourceSpans": [...]}, the /trace download as it always was
    data = to_protobuf(spans)        # the same spans, serialized protobuf (application/x-protobuf)
    ExportTraceServiceRequest.FromString(data)

Why protobuf: some OTLP backends and viewers take protobuf only (a 415 for
OTLP/JSON), and a recorded job is worth sending to one afterwards.

Contract: the job file's ``resourceSpans`` are OTLP/JSON (hex trace and span
ids, enums as integers, 64-bit integers as strings). They are converted by
the receiver's own parser, ``otlp_decode.parse_request``: checked against the
published OTLP/JSON schema (for the canonical form job files hold, by the
faster ``otlp_json_spans`` check, which only passes what the schema passes),
then each hex id is turned into its bytes (16 for
a trace id, 8 for a span id) before ``google.protobuf.json_format`` reads the
rest. Never hand OTLP/JSON to ``json_format`` directly: it reads ``bytes``
fields as base64, and 32 hex digits decode "successfully" to a 24-byte trace
id that matches nothing. Nothing is added, dropped or re-redacted: the bytes
hold what the job file holds (already free of credentials when written).
Spans that are not valid OTLP/JSON (a damaged or hand-edited file) raise
:class:`OtlpDecodeError` with a sentence saying what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .otlp_decode import JSON, PROTOBUF, OtlpDecodeError, parse_request

__all__ = ["JSON", "PROTOBUF", "OtlpDecodeError", "otlp_json", "to_protobuf", "to_request"]


def otlp_json(resource_spans: Sequence[Any]) -> str:
    """``{"resourceSpans": [...]}`` as compact JSON text: what an OTLP viewer's "upload JSON" expects."""
    return json.dumps({"resourceSpans": list(resource_spans)}, separators=(",", ":"))


def to_request(resource_spans: Sequence[Any]) -> ExportTraceServiceRequest:
    """The spans as an ``ExportTraceServiceRequest`` message, ids as bytes; :class:`OtlpDecodeError` if invalid."""
    return parse_request(otlp_json(resource_spans).encode("utf-8"), JSON)


def to_protobuf(resource_spans: Sequence[Any]) -> bytes:
    """The spans as a serialized protobuf ``ExportTraceServiceRequest`` (``application/x-protobuf``)."""
    return to_request(resource_spans).SerializeToString()
