"""The OTLP/JSON fast path (``otlp_json_spans``) against the thorough one (schema + protobuf's JSON reader).

Whatever the fast path accepts must come out exactly as the thorough path makes it; whatever it does not
must still be decoded, or refused with the same sentence, by the thorough path. Spans are compared as
protobuf bytes (every field the OTLP exporters send) and as the SDK's own JSON.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as json_encode
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as proto_encode
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace import TraceState, set_span_in_context

from batch_debug.collector.otlp_decode import JSON, OtlpDecodeError, decode_traces, json_spans, parse_request
from batch_debug.collector.otlp_decode import request_spans
from batch_debug.collector.otlp_json_spans import canonical_spans
from batch_debug.collector.otlp_schema import EXPORT_TRACE_REQUEST

SCHEMA = jsonschema.Draft202012Validator(EXPORT_TRACE_REQUEST)


def _recorded() -> list[ReadableSpan]:
    """Spans using every field: all attribute types, events, links, a remote parent, each kind and status."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "svc", "n": 3}, "https://schema/1"))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope-a", "1.2", schema_url="https://schema/2", attributes={"scope.k": "v"})
    remote = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0x00F067AA0BA902B7, True, TraceFlags(1),
                         TraceState([("vendor", "x1")]))
    with tracer.start_as_current_span("job", kind=SpanKind.SERVER, context=set_span_in_context(NonRecordingSpan(remote)),
                                      links=[Link(remote, {"link.k": 1})],
                                      attributes={"s": "text é ✓", "b": True, "i": -(10**17), "f": 0.25,
                                                  "ss": ["a", "b"], "bs": [True, False], "is": [1, 2],
                                                  "fs": [1.5, -2.0], "empty": ""}) as job:
        job.add_event("started", {"at": 1, "why": "because"}, timestamp=1_700_000_000_000_000_001)
        for kind in (SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER):
            with tracer.start_as_current_span(f"child {kind.name}", kind=kind) as child:
                child.set_status(Status(StatusCode.ERROR, "it broke") if kind is SpanKind.CLIENT
                                 else Status(StatusCode.OK))
        job.record_exception(ValueError("bad value"))
    other = provider.get_tracer("scope-b")
    with other.start_as_current_span("unset status, no attributes"):
        pass
    return list(exporter.get_finished_spans())


def _thorough(data: Any) -> list[ReadableSpan]:
    # parse_request skips the schema for canonical OTLP/JSON (it passes by construction): checked here.
    if canonical_spans(copy.deepcopy(data)) is not None:
        assert SCHEMA.is_valid(data)
    return request_spans(parse_request(json.dumps(data).encode(), JSON))


def _same(left: list[ReadableSpan], right: list[ReadableSpan]) -> None:
    assert proto_encode(left).SerializeToString() == proto_encode(right).SerializeToString()
    assert [_facts(s) for s in left] == [_facts(s) for s in right]


def _facts(s: ReadableSpan) -> tuple[Any, ...]:
    return (s.name, s.context, s.parent, s.parent.is_remote if s.parent else None, s.kind, s.status.status_code,
            s.status.description, dict(s.attributes or {}), s.start_time, s.end_time,
            [(e.name, dict(e.attributes or {}), e.timestamp) for e in s.events],
            [(link.context, link.context.trace_state, dict(link.attributes or {})) for link in s.links],
            dict(s.resource.attributes), s.resource.schema_url, s.instrumentation_scope,
            s.instrumentation_scope and s.instrumentation_scope.attributes)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(json_encode(_recorded()).to_json())


def test_what_the_encoder_writes_takes_the_fast_path_and_comes_out_as_the_thorough_path_makes_it(document) -> None:
    fast = canonical_spans(copy.deepcopy(document))
    assert fast is not None and len(fast) == 6
    _same(fast, _thorough(document))
    _same(fast, _recorded_again(document))
    job = next(s for s in fast if s.name == "job")
    assert job.parent is not None and job.parent.is_remote and job.parent.span_id == 0x00F067AA0BA902B7
    assert dict(job.attributes or {})["i"] == -(10**17) and dict(job.attributes or {})["fs"] == [1.5, -2.0]
    assert job.context.trace_state == TraceState([("vendor", "x1")]) and job.links[0].context.is_remote


def _recorded_again(document: dict[str, Any]) -> list[ReadableSpan]:
    return decode_traces(json.dumps(document).encode(), JSON)  # the receiver's route: bytes in


def _span(data: dict[str, Any]) -> dict[str, Any]:
    """The job span (the one with attributes, events and links)."""
    return next(s for s in data["resourceSpans"][0]["scopeSpans"][0]["spans"] if s["name"] == "job")


# Each changes the first span into something the fast path leaves to the thorough one.
VARIANTS = {
    "a snake_case field name": lambda s: s.__setitem__("start_time_unix_nano", s.pop("startTimeUnixNano")),
    "an unknown field": lambda s: s.__setitem__("somethingNew", {"x": 1}),
    "a bracketed field name": lambda s: s.__setitem__("[ext]", 1),
    "a bytes value": lambda s: s["attributes"].append({"key": "raw", "value": {"bytesValue": "AAE="}}),
    "an integer as a number": lambda s: s.__setitem__("startTimeUnixNano", int(s["startTimeUnixNano"])),
    "a 19-digit int64 string": lambda s: s["attributes"].append({"key": "n", "value": {"intValue": "1" * 19}}),
    "a kind by name": lambda s: s.__setitem__("kind", "SPAN_KIND_CLIENT"),
    "a kind out of range": lambda s: s.__setitem__("kind", 9),
    "a boolean kind": lambda s: s.__setitem__("kind", True),
    "an upper-case hex id": lambda s: s.__setitem__("spanId", s["spanId"].upper()),
    "a short span id": lambda s: s.__setitem__("spanId", s["spanId"][:-2]),
    "a 0x span id": lambda s: s.__setitem__("spanId", "0x" + s["spanId"][2:]),
    "a null name": lambda s: s.__setitem__("name", None),
    "two value fields": lambda s: s["attributes"].append({"key": "two", "value": {"stringValue": "a",
                                                                                  "boolValue": True}}),
    "a value nested twice": lambda s: s["attributes"].append(
        {"key": "deep", "value": {"arrayValue": {"values": [{"arrayValue": {"values": []}}]}}}),
    "an empty value": lambda s: s["attributes"].append({"key": "none", "value": {}}),
    "a key without a value": lambda s: s["attributes"].append({"key": "bare"}),
    "a status code of 3": lambda s: s.__setitem__("status", {"code": 3}),
    "a float flags": lambda s: s.__setitem__("flags", 1.0),
}


@pytest.mark.parametrize("change", VARIANTS.values(), ids=list(VARIANTS))
def test_anything_else_is_judged_by_the_thorough_path(document, change) -> None:
    data = copy.deepcopy(document)
    change(_span(data))
    try:
        wanted: list[ReadableSpan] | str = _thorough(data)
    except OtlpDecodeError as exc:
        wanted = str(exc)
    try:
        got: list[ReadableSpan] | str = json_spans(copy.deepcopy(data))
    except OtlpDecodeError as exc:
        got = str(exc)
    if isinstance(wanted, str):
        assert got == wanted
        assert canonical_spans(data) is None
    else:
        assert not isinstance(got, str)
        _same(got, wanted)


def test_the_fast_path_refuses_nothing_the_thorough_path_takes_among_plain_values(document) -> None:
    """An empty value and a key without a value are canonical (the encoders write neither, but both are
    plain OTLP): the fast path takes them, as None, like the thorough path."""
    data = copy.deepcopy(document)
    _span(data)["attributes"] += [{"key": "none", "value": {}}, {"key": "bare"}]
    fast = canonical_spans(copy.deepcopy(data))
    assert fast is not None
    _same(fast, _thorough(data))


def test_a_lone_surrogate_is_refused_by_both_paths(document) -> None:
    body = json.dumps(document).replace('"name": "job"', '"name": "job \\ud800"', 1).encode()
    assert b"\\ud800" in body
    with pytest.raises(OtlpDecodeError, match="surrogate"):
        decode_traces(body, JSON)
    assert canonical_spans(json.loads(body)) is None
