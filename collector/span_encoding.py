"""A batch of finished spans as OTLP/JSON text for the job file, encoded one span at a time.

Usage (``spool.JobSpool``, on the writer thread)::

    text = resource_spans_text(spans)   # '{"resource":...,"scopeSpans":[...]},{...}': list items, no brackets
    text = resource_spans_text(spans, {span_id: entry})   # request spans slimmed by their requests entries

Why: ``encode_spans`` (``opentelemetry-exporter-otlp-json-common``) builds
the object tree of a whole batch, and ``to_dict`` a dict tree beside it:
about 85 objects the garbage collector tracks for every request, alive
together. Their number alone sets off the collector's passes, and each pass
finds the batch alive and moves it to an older generation, so the host pays
for full collections of its whole heap. Measured on 30,000 poster requests
(``python benchmarks/breakdown.py``): 1,146 passes and one full collection
while the batches were encoded, none this way, and 26.5 -> 19.3 us a
request for encoding and its JSON text.

So each span is encoded by the encoder's own per-span function, made a dict,
stripped of ``batch_debug.record`` (``span_records``), made text and let go
before the next; a request span whose ``requests`` entry is given (by its
span id) also leaves out what that entry gives back, where
``entry_attributes.slim`` allows (job file format 4). The spans are grouped as ``encode_spans`` groups them (by
resource, then by instrumentation scope, in order of first appearance); each
group's resource and scope are encoded once by the encoder's functions and
classes, with a marker where its spans go, and the spans' texts take the
marker's place. No part of OTLP/JSON is written here.

Attributes: most of a request span's attributes hold the same value from
span to span (the method, server, port, route, user agent, status,
protocol). The encoder lays each span out with one stand-in attribute, and
the span's own attributes take its place, each encoded by the encoder's
``_encode_key_value`` once per batch for each (key, type, value): 16.8 ->
12.9 us for a poster request's span, measured on one span encoded 100 times
a batch. A span whose attributes were cut by a limit (its dropped count) is
encoded whole, as is one with a value the encoder refuses (it logs and
skips it).

Contract: the text is, byte for byte, the ``resourceSpans`` list of
``encode_spans(spans).to_dict()``, less the records (``span_records.drop_records``)
and, for the spans ``slim`` allows, what their entries give back (``drop_given_back``),
as ``jsontext.compact`` writes it, without its brackets. It uses four
private functions of the encoder (checked against the version pinned in
``pyproject.toml``; ``tests/test_upstream_contracts.py`` checks them, and
that a copy of a ``ReadableSpan`` with its ``_attributes`` replaced reads
those): if they are not there, or the two ways disagree on a sample batch
when first used, every batch goes through the public ``encode_spans``, with
one warning.
``collector`` may not import ``instrumentation.upstream``, the project's
other place for private upstream names; this module is the collector's one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from .attributes import RECORD
from .jsontext import compact
from .entry_attributes import GIVEN_BACK, slim
from .span_records import drop_given_back, drop_records

logger = logging.getLogger(__name__)

#: Where a group's spans go in its encoded text: random per process, so no attribute value can be it.
_MARKER = f"batch-debug-spans-{uuid.uuid4().hex}"

_chosen: Callable[[Sequence[ReadableSpan], Any], str] | None = None


#: A batch's request records by the span id of their span (``int``), for the spans' file form.
Entries = Mapping[int, Mapping[str, Any]]


def resource_spans_text(spans: Sequence[ReadableSpan], entries: Entries | None = None) -> str:
    """The batch's ``resourceSpans`` entries as compact JSON text, comma-separated (see the module doc).

    A span with one of ``entries`` (its ``requests`` entry) leaves out what that entry gives back, where
    ``entry_attributes.slim`` allows."""
    global _chosen
    if _chosen is None:
        _chosen = _choose()
    return _chosen(spans, entries)


def by_batch(spans: Sequence[ReadableSpan], entries: Entries | None = None) -> str:
    """The public way: the encoder's ``encode_spans`` for the whole batch (the fallback, and the reference)."""
    from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans

    resource_spans = encode_spans(spans).to_dict().get("resourceSpans", [])
    drop_records(resource_spans)
    if entries:
        drop_given_back(resource_spans, [f"{span.context.span_id:016x}" for span in spans
                                         if _slim(span, span.attributes or {}, entries)])
    return compact(resource_spans)[1:-1]


def _slim(span: ReadableSpan, attributes: Mapping[str, Any], entries: Entries | None) -> bool:
    entry = entries.get(span.context.span_id) if entries else None
    return entry is not None and slim(attributes, entry)


def by_span(spans: Sequence[ReadableSpan], entries: Entries | None = None) -> str:
    """One span at a time (see the module doc); raises ``ImportError`` without the encoder's private functions."""
    from opentelemetry.exporter.otlp.json.common._internal import (
        _encode_instrumentation_scope, _encode_key_value, _encode_resource,
    )
    from opentelemetry.exporter.otlp.json.common._internal.trace_encoder import _encode_span
    from opentelemetry.proto_json.trace.v1.trace import ResourceSpans, ScopeSpans

    attribute_dicts = _AttributeDicts(_encode_key_value)
    groups: dict[Any, dict[Any, list[str]]] = {}
    for span in spans:
        attributes = span.attributes
        encoded = None
        slimmed = _slim(span, attributes or {}, entries)
        if attributes and not span.dropped_attributes:
            # The encoder lays the span out with one stand-in attribute; the real ones, each made by
            # the encoder once per (key, value) (most repeat from span to span), take its place.
            encoded = _encode_span(_with_stand_in(span)).to_dict()
            try:
                encoded["attributes"] = attribute_dicts.of(attributes, _LEFT_OUT_SLIM if slimmed else _LEFT_OUT)
            except Exception:  # noqa: BLE001 - a value the encoder refuses: its own way logs and skips it
                encoded = None
        if encoded is None:
            encoded = _encode_span(span).to_dict()
            if encoded.get("attributes"):
                group = [{"scopeSpans": [{"spans": [encoded]}]}]
                drop_records(group)
                if slimmed:
                    drop_given_back(group, [str(encoded.get("spanId"))])
        groups.setdefault(span.resource, {}).setdefault(span.instrumentation_scope or None, []).append(
            compact(encoded))
    group_texts = []
    for resource, scopes in groups.items():
        # (The generated classes' fields are unknown to mypy, as to the encoder's own type checks.)
        scope_spans = [
            ScopeSpans(scope=_encode_instrumentation_scope(scope), spans=[_Marker(number)],  # type: ignore[call-arg]
                       schema_url=scope.schema_url if scope else None)
            for number, scope in enumerate(scopes)]
        text = compact(ResourceSpans(resource=_encode_resource(resource), scope_spans=scope_spans,  # type: ignore[call-arg]
                                     schema_url=resource.schema_url).to_dict())
        for number, texts in enumerate(scopes.values()):
            text = text.replace(f'"{_Marker(number).text}"', ",".join(texts), 1)
        group_texts.append(text)
    return ",".join(group_texts)


#: What a span's attributes are while the encoder lays it out (:func:`_with_stand_in`).
_STAND_IN = {_MARKER: True}
#: Attributes a span's file form leaves out: the record always, what its entry gives back when slimmed.
_LEFT_OUT = frozenset({RECORD})
_LEFT_OUT_SLIM = _LEFT_OUT | GIVEN_BACK
#: Attribute texts at most this long are kept for the next span; longer ones (a URL with an id) rarely repeat.
_KEPT_CHARS = 64
#: (key, value) pairs kept at most, per batch.
_KEPT_PAIRS = 512


def _with_stand_in(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` whose attributes are the stand-in: what the encoder reads is otherwise the span's.

    A shallow copy of its fields (``ReadableSpan`` keeps them in its ``__dict__``, and its properties
    read them). Were that ever not so, the encoder would see the real attributes, which the caller
    replaces all the same: slower, never different.
    """
    copy = object.__new__(type(span))
    copy.__dict__.update(span.__dict__)
    copy.__dict__["_attributes"] = _STAND_IN
    return copy


class _AttributeDicts:
    """Each attribute as the encoder makes it (``_encode_key_value(key, value).to_dict()``), the record
    left out; a pair seen before in the batch is not encoded again. The dicts are shared: read only."""

    __slots__ = ("encode", "kept")

    def __init__(self, encode: Callable[[str, Any], Any]) -> None:
        self.encode = encode
        self.kept: dict[tuple[str, type, Any], dict[str, Any]] = {}

    def of(self, attributes: Mapping[str, Any], left_out: frozenset[str]) -> list[dict[str, Any]]:
        kept, found = self.kept, []
        for key, value in attributes.items():
            if key in left_out:
                continue
            # The type is part of the key: True == 1 == 1.0, but each is encoded its own way.
            pair = (key, value.__class__, value)
            try:
                encoded = kept.get(pair)
            except TypeError:  # an unhashable value (a list from another instrumentation)
                found.append(self.encode(key, value).to_dict())
                continue
            if encoded is None:
                encoded = self.encode(key, value).to_dict()
                if not (isinstance(value, str) and len(value) > _KEPT_CHARS):
                    if len(kept) >= _KEPT_PAIRS:
                        kept.clear()
                    kept[pair] = encoded
            found.append(encoded)
        return found


class _Marker:
    """Stands for a group's spans in ``ScopeSpans.spans``: its ``to_dict`` is the marker text."""

    __slots__ = ("text",)

    def __init__(self, number: int) -> None:
        self.text = f"{_MARKER}-{number}"

    def to_dict(self) -> str:
        return self.text


def _choose() -> Callable[[Sequence[ReadableSpan], Any], str]:
    """:func:`by_span` when it gives what :func:`by_batch` gives for a sample batch, else :func:`by_batch`."""
    try:
        sample, entries = _sample_batch(), _sample_entries()
        if by_span(sample, entries) == by_batch(sample, entries):
            return by_span
        why = "it encodes a sample batch differently"
    except Exception as exc:  # noqa: BLE001 - an upgrade past the pin: the public way still works
        why = f"{type(exc).__name__}: {exc}"
    logger.warning("batch-debug encodes spans a batch at a time (slower, more work for the garbage collector): "
                   "the OTLP JSON encoder's per-span functions cannot be used (%s). The version pinned in "
                   "pyproject.toml has them.", why)
    return by_batch


def _sample_batch() -> list[ReadableSpan]:
    """Spans of two resources and two scopes (one with none), attributes of each kind, an event, a link."""
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

    first, second = Resource({"service.name": "a", "n": 1}), Resource({"service.name": "b"}, "https://schema")
    ours, theirs = InstrumentationScope("batch_debug", "1"), InstrumentationScope("other", None, "https://s")
    parent = SpanContext(7, 8, True)

    def span(number: int, resource: Resource, scope: InstrumentationScope | None, **attributes: Any) -> ReadableSpan:
        context = SpanContext(7, 100 + number, False)
        return ReadableSpan(f"span {number}", context, parent, resource, {**attributes, RECORD: "{}"},
                            [Event("e", {"k": [1, 2]}, 5)], [Link(parent, {"l": True})], kind=SpanKind.CLIENT,
                            status=Status(StatusCode.ERROR, "why"), start_time=number, end_time=number + 1,
                            instrumentation_scope=scope)

    bounded = span(8, first, ours)
    bounded._attributes = kept = BoundedAttributes(1, {"kept": 1})  # noqa: SLF001
    kept.dropped = 1  # as when a second attribute met the limit (made so, that warning is not logged)
    only_record = span(9, first, ours)
    only_record._attributes = {RECORD: "{}"}  # noqa: SLF001
    return [span(1, first, ours, s="x", f=1.5), span(2, second, None, b=False), span(3, first, theirs, i=3),
            span(4, first, ours), span(5, second, theirs, t=("a", "b")),
            # The same key with True, 1 and 1.0 (equal, and encoded three ways); a long text, twice.
            span(6, first, ours, v=True, u="u" * 100), span(7, first, ours, v=1, u="u" * 100),
            span(10, first, ours, v=1.0), bounded, only_record,
            ReadableSpan("no attributes", SpanContext(7, 111, False), parent, first, None, kind=SpanKind.CLIENT,
                         start_time=1, end_time=2, instrumentation_scope=ours),
            # Request spans with a requests entry (_sample_entries): one it gives back, one it does not.
            span(12, first, ours, **_REQUEST), span(13, first, ours, **_REQUEST)]


#: A request span's attributes as ``instrumentation.exchange`` sets them, and its requests entry.
_REQUEST = {"http.request.method": "GET", "url.full": "http://h:8/Items/abc/Images/Primary", "server.address": "h",
            "server.port": 8, "url.template": "/Items/{itemId}/Images/Primary", "user_agent.original": "ua",
            "http.response.status_code": 200, "network.protocol.version": "1.1", "http.response.body.size": 5}
_ENTRY = {"method": "GET", "url": "http://h:8/Items/abc/Images/Primary", "attempt": 1, "status_code": 200,
          "error_type": None, "http_version": "HTTP/1.1", "body_bytes": 5}


def _sample_entries() -> dict[int, dict[str, Any]]:
    """Entries for :func:`_sample_batch`'s request spans: the first's gives its attributes back, the
    second's a body size it does not have (that span keeps them)."""
    return {112: _ENTRY, 113: {**_ENTRY, "body_bytes": 6}}
