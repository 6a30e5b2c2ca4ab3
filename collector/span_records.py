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

From format 4 on the span in the file also leaves out the semantic-convention
attributes its entry gives back (:data:`GIVEN_BACK`: method, URL, server
address and port, route template, resend count, status, protocol version,
error type, body size: 1,600 -> 1,000 bytes a poster request in all),
where putting them back gives the very attributes (``entry_attributes``).

Contract:

- :func:`drop_records` removes the record attribute from every span of an
  OTLP/JSON ``resourceSpans`` list (as ``ExportTraceServiceRequest.to_dict``
  gives it); nothing else changes. :func:`drop_given_back` removes the
  :data:`GIVEN_BACK` attributes from the spans it is told (by span id);
  :func:`spans_of` is the walk both take.
- :func:`with_records` gives the spans back with the record attribute on
  every span that has a ``requests`` entry and no record attribute of its
  own: the entry, less its ``span_id``, as compact JSON; a span that has
  none of :data:`GIVEN_BACK` gets those its entry gives back too
  (``entry_attributes.given_back``), each where the span had it, unless
  two entries share its span id (a damaged or hostile job: which is whose,
  no one can tell; the writer slims no span of such an id in a batch,
  :func:`unique_entries`, and a span is better without those attributes
  than with another's). Read by ``records.request_record``, such a span gives that entry again, key for
  key, whichever instrumentation made the span, so the spans sent to a
  viewer or to another sidecar's ``/v1/traces`` rebuild the same file; a
  span the writer slimmed is the span it was, attribute for attribute.
  Spans of older files (formats 1 and 2) keep the attribute they carry.
  The input is not changed (changed spans are copies), and anything that is
  not shaped like OTLP/JSON is passed on as it is, for the decoder to name.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .attributes import RECORD
from .entry_attributes import GIVEN_BACK, any_value, given_back, merge
from .jsontext import compact

def spans_of(resource_spans: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Every span (a dict) of an OTLP/JSON ``resourceSpans`` list, in order; what is not shaped like one is
    passed over."""
    for group in resource_spans:
        for scope in _list(group, "scopeSpans"):
            for span in _list(scope, "spans"):
                if isinstance(span, dict):
                    yield span


def _list(parent: Any, key: str) -> list[Any]:
    found = parent.get(key) if isinstance(parent, dict) else None
    return found if isinstance(found, list) else []


def drop_records(resource_spans: list[dict[str, Any]]) -> None:
    """Remove ``batch_debug.record`` from every span of ``resource_spans`` (the encoder's output), in place."""
    for span in spans_of(resource_spans):
        attributes = span.get("attributes")
        if not attributes:
            continue
        # Ours put it last (instrumentation.exchange): one look, except for spans made elsewhere.
        if attributes[-1].get("key") == RECORD:
            attributes.pop()
        elif any(a.get("key") == RECORD for a in attributes):
            span["attributes"] = [a for a in attributes if a.get("key") != RECORD]


def drop_given_back(resource_spans: list[dict[str, Any]], span_ids: Iterable[str]) -> None:
    """Remove the :data:`GIVEN_BACK` attributes from the spans of ``resource_spans`` whose ``spanId`` is one
    of ``span_ids`` (the encoder's output, in place; the writer checked each with ``entry_attributes.slim``)."""
    wanted = set(span_ids)
    for span in spans_of(resource_spans):
        if span.get("spanId") in wanted and span.get("attributes"):
            span["attributes"] = [a for a in span["attributes"] if a.get("key") not in GIVEN_BACK]


def trace_of(document: Mapping[str, Any]) -> list[Any]:
    """A job file's ``resourceSpans``, each span whole (:func:`with_records`): what a viewer or a receiver
    is given (``GET /job/<id>/trace``, ``batch-debug trace``). ``ValueError`` when the file holds no
    ``resourceSpans`` list."""
    spans = document.get("resourceSpans")
    if not isinstance(spans, list):
        raise ValueError("holds no resourceSpans list")
    return with_records(spans, document.get("requests"))


def with_records(resource_spans: Sequence[Any], requests: Any) -> list[Any]:
    """``resource_spans`` with each request's record back on its span (see the module doc)."""
    entries = _Entries(requests)
    if not entries.first:
        return list(resource_spans)
    return [_group(group, entries) for group in resource_spans]


class _Entries:
    """Entries by span id (made by ``key`` from the entry's ``span_id`` text): the first of each, and the ids
    that have more than one."""

    __slots__ = ("first", "repeated")

    def __init__(self, requests: Any, key: Callable[[str], Any] = str) -> None:
        self.first: dict[Any, Mapping[str, Any]] = {}
        self.repeated: set[Any] = set()
        for entry in requests if isinstance(requests, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("span_id"), str):
                span_id = key(entry["span_id"])
                if span_id in self.first:
                    self.repeated.add(span_id)
                else:
                    self.first[span_id] = entry


def unique_entries(records: list[dict[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """The records of a batch by the span id of their span (``int``), less any id two records share:
    which of them is whose span, no one can tell (ids repeat only in a damaged or hostile job)."""
    entries = _Entries(records, lambda text: int(text, 16))
    return {span_id: entry for span_id, entry in entries.first.items() if span_id not in entries.repeated}


def _group(group: Any, entries: _Entries) -> Any:
    scopes = group.get("scopeSpans") if isinstance(group, dict) else None
    if not isinstance(scopes, list):
        return group
    return {**group, "scopeSpans": [_scope(scope, entries) for scope in scopes]}


def _scope(scope: Any, entries: _Entries) -> Any:
    spans = scope.get("spans") if isinstance(scope, dict) else None
    if not isinstance(spans, list):
        return scope
    return {**scope, "spans": [_span(span, entries) for span in spans]}


def _span(span: Any, entries: _Entries) -> Any:
    if not isinstance(span, dict):
        return span
    span_id = span.get("spanId")
    entry = entries.first.get(span_id) if isinstance(span_id, str) else None
    attributes = span.get("attributes", [])
    if entry is None or not isinstance(attributes, list):
        return span
    keys = [a.get("key") if isinstance(a, dict) else None for a in attributes]
    if RECORD in keys:
        return span  # a file of format 1 or 2: the span still carries its own
    # Format 4: the entry gives them back (a span of format 3 has some). Not when two entries share the span's
    # id: one of them is another span's, and a span is better without them than with another's.
    if not GIVEN_BACK.intersection(keys) and span_id not in entries.repeated:
        given = [(key, {"key": key, "value": any_value(value)}) for key, value in given_back(entry).items()]
        attributes = [item for _, item in merge(list(zip(keys, attributes)), given)]  # type: ignore[arg-type]
    record = {key: value for key, value in entry.items() if key != "span_id"}
    return {**span, "attributes": [*attributes, {"key": RECORD, "value": {"stringValue": compact(record)}}]}
