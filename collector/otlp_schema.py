"""JSON Schema of an OTLP/JSON trace export request, as the sidecar accepts it.

Data only. ``otlp_decode`` validates every OTLP/JSON body against it before
parsing, and ``dashboard/otlp.py`` publishes it in the OpenAPI document, so
what the document promises and what the receiver accepts are one thing.
It follows the OTLP/JSON encoding: lowerCamelCase names, hex trace and span
ids, enums as integers, 64-bit integers as decimal strings (or numbers).
Unknown fields are allowed and ignored, as the specification requires (except
names in brackets, protobuf's extension syntax, and a field's proto name such
as ``trace_id``, which protobuf's parser would read as the field). One
restriction: attribute values nest one level (an array or key-value list of
plain values), which covers every attribute an OpenTelemetry SDK can set.
"""

from __future__ import annotations

import re
from typing import Any

_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}


def _at_most(bound: str) -> str:
    """A regex for decimal numbers of exactly ``len(bound)`` digits that are at most ``bound``."""
    choices = [f"{bound[:i]}[0-{int(d) - 1}][0-9]{{{len(bound) - i - 1}}}" for i, d in enumerate(bound) if d != "0"]
    return "(?:" + "|".join([*choices, bound]) + ")"


#: 64-bit integers as decimal text, exactly their range (a 19-digit nanosecond count is a valid int64).
INT64_PATTERN = rf"^(?:-?(?:[0-9]{{1,18}}|{_at_most(str(2**63 - 1))})|-{2**63})$"
UINT64_PATTERN = rf"^(?:[0-9]{{1,19}}|{_at_most(str(2**64 - 1))})$"
_UINT64 = {"oneOf": [{"type": "string", "pattern": UINT64_PATTERN},
                     {"type": "integer", "minimum": 0, "maximum": 2**64 - 1}]}
_INT64 = {"oneOf": [{"type": "string", "pattern": INT64_PATTERN},
                    {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}]}
_TRACE_ID = {"type": "string", "pattern": "^[0-9a-fA-F]{32}$", "description": "16 bytes as 32 hex digits"}
_SPAN_ID = {"type": "string", "pattern": "^[0-9a-fA-F]{16}$", "description": "8 bytes as 16 hex digits"}
_BASE64 = {"type": "string", "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"}


#: Unknown field names are ignored, but not ``[name]``: protobuf's JSON parser reads that as an extension
#: and refuses it even when told to ignore unknown fields, so the schema refuses it first.
_NO_EXTENSION_NAMES = {"not": {"pattern": "^\\["}}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    # protobuf's JSON parser also reads each field under its proto name (trace_id for traceId), so such a
    # name is not unknown to it: refused here (OTLP/JSON names are lowerCamelCase), or [] there would
    # pass the schema and break the parser.
    proto_names = sorted(_snake(name) for name in props if _snake(name) != name)
    names: dict[str, Any] = _NO_EXTENSION_NAMES
    if proto_names:
        names = {"allOf": [_NO_EXTENSION_NAMES, {"not": {"enum": proto_names}}]}
    schema: dict[str, Any] = {"type": "object", "properties": props, "propertyNames": names}
    if required:
        schema["required"] = list(required)
    return schema


def _any_value(nested: dict[str, Any] | None) -> dict[str, Any]:
    props: dict[str, Any] = {"stringValue": {"type": "string"}, "boolValue": {"type": "boolean"},
                             "intValue": _INT64, "doubleValue": {"type": "number"}, "bytesValue": _BASE64}
    if nested is not None:
        props["arrayValue"] = _obj(values={"type": "array", "items": nested})
        props["kvlistValue"] = _obj(values={"type": "array", "items": _obj(("key",), key={"type": "string"},
                                                                               value=nested)})
    return {**_obj(**props), "maxProperties": 1, "description": "one of the value fields (or none)"}


_PLAIN_VALUE = _any_value(None)
_KEY_VALUE = _obj(("key",), key={"type": "string"}, value=_any_value(_PLAIN_VALUE))
_ATTRIBUTES = {"type": "array", "items": _KEY_VALUE}

SPAN = _obj(
    ("traceId", "spanId"),
    traceId=_TRACE_ID, spanId=_SPAN_ID, traceState={"type": "string"},
    parentSpanId={"type": "string", "pattern": "^(?:[0-9a-fA-F]{16})?$"},
    flags=_UINT32, name={"type": "string"},
    kind={"type": "integer", "minimum": 0, "maximum": 5, "description": "0 unspecified .. 5 consumer"},
    startTimeUnixNano=_UINT64, endTimeUnixNano=_UINT64,
    attributes=_ATTRIBUTES, droppedAttributesCount=_UINT32,
    events={"type": "array", "items": _obj(timeUnixNano=_UINT64, name={"type": "string"},
                                           attributes=_ATTRIBUTES, droppedAttributesCount=_UINT32)},
    droppedEventsCount=_UINT32,
    links={"type": "array", "items": _obj(("traceId", "spanId"), traceId=_TRACE_ID, spanId=_SPAN_ID,
                                          traceState={"type": "string"}, attributes=_ATTRIBUTES,
                                          droppedAttributesCount=_UINT32, flags=_UINT32)},
    droppedLinksCount=_UINT32,
    status=_obj(message={"type": "string"},
                code={"type": "integer", "minimum": 0, "maximum": 2, "description": "0 unset, 1 ok, 2 error"}),
)

EXPORT_TRACE_REQUEST: dict[str, Any] = {
    **_obj(resourceSpans={"type": "array", "items": _obj(
        resource=_obj(attributes=_ATTRIBUTES, droppedAttributesCount=_UINT32),
        scopeSpans={"type": "array", "items": _obj(
            scope=_obj(name={"type": "string"}, version={"type": "string"}, attributes=_ATTRIBUTES,
                       droppedAttributesCount=_UINT32),
            spans={"type": "array", "items": SPAN},
            schemaUrl={"type": "string"})},
        schemaUrl={"type": "string"})}),
    "description": "ExportTraceServiceRequest in OTLP/JSON",
}

EXPORT_TRACE_RESPONSE: dict[str, Any] = {
    **_obj(partialSuccess=_obj(rejectedSpans=_INT64, errorMessage={"type": "string"})),
    "description": "ExportTraceServiceResponse in OTLP/JSON ({} when every span was accepted)",
}

#: A 400 answer to an OTLP/JSON request: a google.rpc.Status plus this API's usual error object.
OTLP_ERROR: dict[str, Any] = _obj(
    ("code", "message", "error"),
    code={"type": "integer", "description": "google.rpc.Code, 3 (INVALID_ARGUMENT)"},
    message={"type": "string"},
    error=_obj(("status", "message"), status={"type": "integer"}, message={"type": "string"}),
)
