"""OTLP/HTTP trace payloads to finished SDK spans, for the assembler.

Usage::

    spans = decode_traces(body, content_type="application/x-protobuf", content_encoding="gzip")
    assembler.add(spans)

Decodes an ``ExportTraceServiceRequest`` as the OTLP specification defines it
for HTTP: binary protobuf (``application/x-protobuf``) or OTLP/JSON
(``application/json``, checked against ``otlp_schema.EXPORT_TRACE_REQUEST``:
lowerCamelCase field names, trace and span ids as hex strings, enums as
integers, 64-bit integers as strings or numbers, unknown fields ignored),
optionally gzip-compressed. The
result is a list of ``ReadableSpan``, so the assembler and the OTLP JSON
encoder treat remote spans exactly like local ones. Any malformed payload
raises :class:`OtlpDecodeError` with a sentence saying what is wrong.

OTLP/JSON in the canonical form the OpenTelemetry encoders write goes straight
to spans (``otlp_json_spans``, about 25 times faster than the schema check
alone); everything else, malformed or merely unusual (snake_case names, bytes
values, unknown fields), takes the thorough path: the schema, then protobuf's
JSON reader. Both give equal spans for what both accept.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from typing import Any

import jsonschema
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope as PbScope, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan, Status as PbStatus
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from .otlp_json_spans import canonical_spans, trace_state
from .otlp_schema import EXPORT_TRACE_REQUEST

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
#: Largest payload accepted after decompression (the OTLP exporters' own default cap).
MAX_DECODED_BYTES = 64 * 2**20

_KINDS = {PbSpan.SPAN_KIND_SERVER: SpanKind.SERVER, PbSpan.SPAN_KIND_CLIENT: SpanKind.CLIENT,
          PbSpan.SPAN_KIND_PRODUCER: SpanKind.PRODUCER, PbSpan.SPAN_KIND_CONSUMER: SpanKind.CONSUMER}
_STATUS = {PbStatus.STATUS_CODE_OK: StatusCode.OK, PbStatus.STATUS_CODE_ERROR: StatusCode.ERROR}
_VALIDATOR = jsonschema.Draft202012Validator(EXPORT_TRACE_REQUEST)
_ID_FIELDS = {"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8, "parentSpanId": 8, "parent_span_id": 8}


class OtlpDecodeError(ValueError):
    """The payload is not a valid OTLP trace export request; the message says why."""


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    """The body without its ``Content-Encoding`` (none, ``gzip`` or ``deflate``), size-capped."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise OtlpDecodeError(f"Content-Encoding {encoding!r} is not supported; send gzip or none.")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, MAX_DECODED_BYTES + 1)
    except zlib.error as exc:
        raise OtlpDecodeError(f"the body is not valid {encoding} data: {exc}") from exc
    if len(out) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
        raise OtlpDecodeError(f"the body is larger than {MAX_DECODED_BYTES} bytes once decompressed.")
    if not inflater.eof:
        raise OtlpDecodeError(f"the {encoding} data is truncated.")
    return out


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping reads bytes as base64."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _ID_FIELDS and isinstance(value, str):
            if value and len(value) != 2 * _ID_FIELDS[key]:
                raise OtlpDecodeError(f"{key} must be {2 * _ID_FIELDS[key]} hex digits, not {value[:40]!r}.")
            try:
                out[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError as exc:
                raise OtlpDecodeError(f"{key} must be hex digits, not {value[:40]!r}.") from exc
        elif key in ("attributes", "resource", "scope", "body"):
            out[key] = value  # user data: a key named "traceId" there is no id
        else:
            out[key] = _hex_ids_to_base64(value)
    return out


def parse_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from protobuf or OTLP/JSON bytes (already decompressed)."""
    if content_type == PROTOBUF:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeWarning, ValueError) as exc:
            raise OtlpDecodeError(f"the body is not a valid protobuf ExportTraceServiceRequest: {exc}") from exc
        return request
    data = _json_object(body)
    # Canonical OTLP/JSON passes the schema by construction: skipping it makes a 10k-request job's
    # protobuf download 1.5 s instead of 8.
    return _json_request(data, checked=canonical_spans(data) is not None)


def _json_object(body: bytes) -> Any:
    # Not orjson, though twice as fast: it reads an integer past 64 bits as a float, which can round
    # an out-of-range int64 into range (-2**63 - 1 becomes -2**63) and so pass the schema.
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise OtlpDecodeError(f"the body is not valid JSON: {str(exc)[:200]}") from exc


def _json_request(data: Any, checked: bool = False) -> ExportTraceServiceRequest:
    """The thorough path: the JSON Schema (unless ``checked``), then protobuf's JSON reader (ids turned to
    base64 first)."""
    if not isinstance(data, dict):
        raise OtlpDecodeError('the body must be a JSON object such as {"resourceSpans": [...]}.')
    request = ExportTraceServiceRequest()
    problem = None if checked else next(_VALIDATOR.iter_errors(data), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "the body"
        raise OtlpDecodeError(f"{where}: {problem.message[:300]}")
    try:
        json_format.ParseDict(_hex_ids_to_base64(data), request, ignore_unknown_fields=True)
    except OtlpDecodeError:
        raise
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise OtlpDecodeError(f"the body is not a valid OTLP/JSON ExportTraceServiceRequest: {str(exc)[:300]}") from exc
    return request


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def _id(raw: bytes, size: int, what: str) -> int:
    if len(raw) != size:
        raise OtlpDecodeError(f"a span's {what} must be {size} bytes, not {len(raw)}.")
    return int.from_bytes(raw, "big")


def _scope(pb: PbScope, schema_url: str) -> InstrumentationScope:
    return InstrumentationScope(pb.name, pb.version or None, schema_url or None, _attributes(pb.attributes) or None)


def _span(pb: PbSpan, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = _id(pb.trace_id, 16, "traceId")
    flags = TraceFlags((pb.flags & 0xFF) | TraceFlags.SAMPLED)
    context = SpanContext(trace_id, _id(pb.span_id, 8, "spanId"), False, flags, trace_state(pb.trace_state))
    parent = None
    if pb.parent_span_id:
        parent = SpanContext(trace_id, _id(pb.parent_span_id, 8, "parentSpanId"), bool(pb.flags & 0x200), flags)
    events = [Event(e.name, _attributes(e.attributes), e.time_unix_nano) for e in pb.events]
    links = [Link(SpanContext(_id(link.trace_id, 16, "link traceId"), _id(link.span_id, 8, "link spanId"), True,
                              TraceFlags(link.flags & 0xFF), trace_state(link.trace_state)),
                  _attributes(link.attributes)) for link in pb.links]
    code = _STATUS.get(pb.status.code, StatusCode.UNSET)
    status = Status(code, pb.status.message or None) if code is StatusCode.ERROR else Status(code)
    return ReadableSpan(
        pb.name, context, parent, resource, _attributes(pb.attributes), events, links,
        kind=_KINDS.get(pb.kind, SpanKind.INTERNAL), status=status,
        start_time=pb.start_time_unix_nano, end_time=pb.end_time_unix_nano, instrumentation_scope=scope,
    )


def request_spans(request: ExportTraceServiceRequest) -> list[ReadableSpan]:
    """Every span of the request as a finished ``ReadableSpan`` (resources and scopes shared per group)."""
    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes), resource_spans.schema_url or None)
        for scope_spans in resource_spans.scope_spans:
            scope = _scope(scope_spans.scope, scope_spans.schema_url)
            spans.extend(_span(pb, resource, scope) for pb in scope_spans.spans)
    return spans


def json_spans(data: Any) -> list[ReadableSpan]:
    """Every span of an already parsed OTLP/JSON request (``{"resourceSpans": [...]}``); the same spans, and
    the same :class:`OtlpDecodeError`, as ``request_spans(parse_request(json.dumps(data), JSON))``.

    Canonical OTLP/JSON (what the encoders and job files write) takes the fast path,
    ``otlp_json_spans.canonical_spans``; anything else the schema and protobuf's reader judge.
    """
    spans = canonical_spans(data)
    return spans if spans is not None else request_spans(_json_request(data))


def decode_traces(body: bytes, content_type: str, content_encoding: str | None = None) -> list[ReadableSpan]:
    """Finished spans from an OTLP/HTTP ``/v1/traces`` body; :class:`OtlpDecodeError` when malformed."""
    body = decompress(body, content_encoding)
    if content_type == PROTOBUF:
        return request_spans(parse_request(body, PROTOBUF))
    return json_spans(_json_object(body))
