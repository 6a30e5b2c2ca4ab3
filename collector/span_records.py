"""A request's record is kept once in its job file, and put back on its span for whoever reads the spans.

Usage::

    drop_records(resource_spans)                    # the writer, on the encoder's output: in place
    spans = with_records(document["resourceSpans"], document["requests"])   # export, trace download

Why: a request span used to reach the file with ``batch_debug.record`` (the
compact JSON of the record's fields no semantic-convention attribute holds),
while the ``requests`` entry of the same attempt held the whole record too:
every request written twice, about 250 bytes of a 1,850-byte request, and its
encoding on the writer thread for nothing. From job file format 3 on the
span in the file carries its semantic-convention attributes only, and its
record is the ``requests`` entry whose ``span_id`` is the span's ``spanId``.

Contract:

- :func:`drop_records` removes the record attribute from every span of an
  OTLP/JSON ``resourceSpans`` list (as ``ExportTraceServiceRequest.to_dict``
  gives it); nothing else changes.
- :func:`with_records` gives the spans back with the record attribute on
  every span that has a ``requests`` entry and no record attribute of its
  own: the entry, less its ``span_id``, as compact JSON. Read by
  ``records.request_record``, such a span gives that entry again, key for
  key, whichever instrumentation made the span, so the spans sent to a
  viewer or to another sidecar's ``/v1/traces`` rebuild the same file.
  Spans of older files (formats 1 and 2) keep the attribute they carry.
  The input is not changed (changed spans are copies), and anything that is
  not shaped like OTLP/JSON is passed on as it is, for the decoder to name.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .attributes import RECORD
from .jsontext import compact


def drop_records(resource_spans: list[dict[str, Any]]) -> None:
    """Remove ``batch_debug.record`` from every span of ``resource_spans`` (the encoder's output), in place."""
    for group in resource_spans:
        for scope in group.get("scopeSpans", ()):
            for span in scope.get("spans", ()):
                attributes = span.get("attributes")
                if not attributes:
                    continue
                # Ours put it last (instrumentation.exchange): one look, except for spans made elsewhere.
                if attributes[-1].get("key") == RECORD:
                    attributes.pop()
                elif any(a.get("key") == RECORD for a in attributes):
                    span["attributes"] = [a for a in attributes if a.get("key") != RECORD]


def with_records(resource_spans: Sequence[Any], requests: Any) -> list[Any]:
    """``resource_spans`` with each request's record back on its span (see the module doc)."""
    by_span = _entries_by_span(requests)
    if not by_span:
        return list(resource_spans)
    return [_group(group, by_span) for group in resource_spans]


def _entries_by_span(requests: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(requests, list):
        return {}
    found: dict[str, Mapping[str, Any]] = {}
    for entry in requests:
        if isinstance(entry, dict) and isinstance(entry.get("span_id"), str):
            found.setdefault(entry["span_id"], entry)
    return found


def _group(group: Any, by_span: Mapping[str, Mapping[str, Any]]) -> Any:
    scopes = group.get("scopeSpans") if isinstance(group, dict) else None
    if not isinstance(scopes, list):
        return group
    return {**group, "scopeSpans": [_scope(scope, by_span) for scope in scopes]}


def _scope(scope: Any, by_span: Mapping[str, Mapping[str, Any]]) -> Any:
    spans = scope.get("spans") if isinstance(scope, dict) else None
    if not isinstance(spans, list):
        return scope
    return {**scope, "spans": [_span(span, by_span) for span in spans]}


def _span(span: Any, by_span: Mapping[str, Mapping[str, Any]]) -> Any:
    if not isinstance(span, dict):
        return span
    span_id = span.get("spanId")
    entry = by_span.get(span_id) if isinstance(span_id, str) else None
    attributes = span.get("attributes", [])
    if entry is None or not isinstance(attributes, list):
        return span
    if any(isinstance(a, dict) and a.get("key") == RECORD for a in attributes):
        return span  # a file of format 1 or 2: the span still carries its own
    record = {key: value for key, value in entry.items() if key != "span_id"}
    return {**span, "attributes": [*attributes, {"key": RECORD, "value": {"stringValue": compact(record)}}]}
