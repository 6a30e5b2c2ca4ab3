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
error type, body size: 1,600 -> 1,000 bytes a poster request in all). The
writer leaves them out only where putting them back gives the very
attributes, in their order and with their types (:func:`slim`); any other
span keeps them. ``user_agent.original`` stays on the span: no entry holds it.

Contract:

- :func:`drop_records` removes the record attribute from every span of an
  OTLP/JSON ``resourceSpans`` list (as ``ExportTraceServiceRequest.to_dict``
  gives it); nothing else changes. :func:`drop_given_back` removes the
  :data:`GIVEN_BACK` attributes from the spans it is told (by span id).
- :func:`with_records` gives the spans back with the record attribute on
  every span that has a ``requests`` entry and no record attribute of its
  own: the entry, less its ``span_id``, as compact JSON; a span that has
  none of :data:`GIVEN_BACK` gets those its entry gives back too
  (:func:`given_back`), each where the span had it, unless two entries
  share its span id (a damaged or hostile job: which is whose, no one can
  tell; the writer slims no span of such an id in a batch,
  :func:`unique_entries`, and a span is better without those attributes
  than with another's). Read by
  ``records.request_record``, such a span gives that entry again, key for
  key, whichever instrumentation made the span, so the spans sent to a
  viewer or to another sidecar's ``/v1/traces`` rebuild the same file; a
  span the writer slimmed is the span it was, attribute for attribute.
  Spans of older files (formats 1 and 2) keep the attribute they carry.
  The input is not changed (changed spans are copies), and anything that is
  not shaped like OTLP/JSON is passed on as it is, for the decoder to name.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from . import attributes as A
from .attributes import RECORD
from .jsontext import compact
from .routes import DEFAULT_PORTS, url_template

#: A request span's attributes in the order ``instrumentation.exchange`` sets them.
_ORDER = (A.HTTP_METHOD_NEW, A.HTTP_URL_NEW, A.SERVER_ADDRESS, A.SERVER_PORT, A.URL_TEMPLATE, A.USER_AGENT,
          A.RESEND_COUNT, A.HTTP_STATUS_NEW, A.PROTOCOL_VERSION, A.ERROR_TYPE, A.BODY_SIZE)
_RANK = {key: rank for rank, key in enumerate(_ORDER)}
#: The attributes a request span's ``requests`` entry gives back (:func:`given_back`).
GIVEN_BACK = frozenset(_ORDER) - {A.USER_AGENT}

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


def drop_given_back(resource_spans: list[dict[str, Any]], span_ids: Iterable[str]) -> None:
    """Remove the :data:`GIVEN_BACK` attributes from the spans of ``resource_spans`` whose ``spanId`` is one
    of ``span_ids`` (the encoder's output, in place; the writer checked each with :func:`slim`)."""
    wanted = set(span_ids)
    for group in resource_spans:
        for scope in group.get("scopeSpans", ()):
            for span in scope.get("spans", ()):
                if span.get("spanId") in wanted and span.get("attributes"):
                    span["attributes"] = [a for a in span["attributes"] if a.get("key") not in GIVEN_BACK]


def given_back(entry: Mapping[str, Any]) -> dict[str, str | int]:
    """The :data:`GIVEN_BACK` attributes a request span of ours has, as its ``requests`` entry tells them.

    Method, URL, resend count (``attempt`` - 1, from the second attempt on), status, protocol version
    (``HTTP/1.1`` -> ``1.1``), error type (the status for an HTTP error, which the entry leaves out) and
    body size are the entry's; server address, port (a scheme's default when the URL has none) and route
    template are read from its URL, as ``exchange`` read them from the request's.
    """
    found: dict[str, str | int] = {}
    method, url = entry.get("method"), entry.get("url")
    if isinstance(method, str) and method:
        found[A.HTTP_METHOD_NEW] = method
    if isinstance(url, str) and url:
        found[A.HTTP_URL_NEW] = url
        host, port, template = _from_url(url)
        if host:
            found[A.SERVER_ADDRESS] = host
        if port is not None:
            found[A.SERVER_PORT] = port
        if template is not None:
            found[A.URL_TEMPLATE] = template
    attempt = entry.get("attempt")
    if type(attempt) is int and attempt > 1:
        found[A.RESEND_COUNT] = attempt - 1
    status = entry.get("status_code")
    if type(status) is int:
        found[A.HTTP_STATUS_NEW] = status
    version = entry.get("http_version")
    if isinstance(version, str):
        found[A.PROTOCOL_VERSION] = version[5:] if version.startswith("HTTP/") else version
    error = entry.get("error_type")
    if isinstance(error, str):
        found[A.ERROR_TYPE] = error
    elif error is None and type(status) is int and status >= 400:
        found[A.ERROR_TYPE] = str(status)
    size = entry.get("body_bytes")
    if type(size) is int:
        found[A.BODY_SIZE] = size
    return found


def _from_url(url: str) -> tuple[str | None, int | None, str | None]:
    """(host, port, route template) of a URL, as ``exchange`` reads them from ``httpx.URL``."""
    # An item's attempts share a URL and come close together: a small cache, of URLs of a usual length
    # only (a span received from elsewhere may carry megabytes in one; the cache would keep 64 of them).
    return _from_short_url(url) if len(url) <= _CACHED_URL_CHARS else _parse_url(url)


_CACHED_URL_CHARS = 2048


@lru_cache(maxsize=64)
def _from_short_url(url: str) -> tuple[str | None, int | None, str | None]:
    return _parse_url(url)


def _parse_url(url: str) -> tuple[str | None, int | None, str | None]:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not one, an unclosed IPv6 bracket
        return None, None, None
    return host, port or DEFAULT_PORTS.get(parts.scheme), url_template(parts.path)


def slim(attributes: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    """True when a request span's file form may leave out its :data:`GIVEN_BACK` attributes: those
    :func:`given_back` gives for ``entry``, put back where :func:`with_records` puts them, are the very
    attributes it has (less the record), key for key, in order, each of the same type."""
    given = given_back(entry)
    found, last = 0, -1
    for key, value in attributes.items():
        if key == RECORD:
            continue
        rank = _RANK.get(key)
        if rank is None or rank <= last:
            return _slim_by_merging(attributes, given)  # not in a request span's own order: the long way
        last = rank
        if rank in _GIVEN_RANKS:
            was = given.get(key, _NOTHING)
            if was is _NOTHING or type(was) is not type(value) or was != value:
                return False
            found += 1
    # Every key in the order _merge puts them: the same keys, so the same attributes in the same order.
    return found > 0 and found == len(given)


_NOTHING = object()
_GIVEN_RANKS = frozenset(_RANK[key] for key in GIVEN_BACK)


def _slim_by_merging(attributes: Mapping[str, Any], given: dict[str, str | int]) -> bool:
    """:func:`slim` for attributes with a key a request span does not have, or out of its order."""
    original = [(key, value) for key, value in attributes.items() if key != RECORD]
    kept = [(key, value) for key, value in original if key not in GIVEN_BACK]
    if len(kept) == len(original):
        return False  # nothing to leave out (and nothing to put back: a span with none keeps none)
    restored = _merge(kept, list(given.items()))
    return len(restored) == len(original) and all(
        key == other and type(value) is type(was) and value == was
        for (key, value), (other, was) in zip(restored, original))


def _merge(kept: list[tuple[str, Any]], given: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``kept`` with each of ``given`` (keys of :data:`GIVEN_BACK`) before the first kept key that comes
    after it in a request span's order (:data:`_ORDER`; a key not in it moves nothing); the rest last."""
    given = sorted(given, key=lambda pair: _RANK[pair[0]])
    out: list[tuple[str, Any]] = []
    next_given = 0
    for key, value in kept:
        rank = _RANK.get(key)
        if rank is not None:
            while next_given < len(given) and _RANK[given[next_given][0]] < rank:
                out.append(given[next_given])
                next_given += 1
        out.append((key, value))
    out.extend(given[next_given:])
    return out


def _any_value(value: str | int) -> dict[str, Any]:
    """An attribute value as OTLP/JSON has it (as the encoder writes text and ints: an int64 as text)."""
    return {"stringValue": value} if isinstance(value, str) else {"intValue": str(value)}


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
    """The ``requests`` entries by span id: the first of each, and the ids that have more than one."""

    __slots__ = ("first", "repeated")

    def __init__(self, requests: Any) -> None:
        self.first: dict[str, Mapping[str, Any]] = {}
        self.repeated: set[str] = set()
        for entry in requests if isinstance(requests, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("span_id"), str):
                if entry["span_id"] in self.first:
                    self.repeated.add(entry["span_id"])
                else:
                    self.first[entry["span_id"]] = entry


def unique_entries(records: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """The records of a batch by the span id of their span (``int``), less any id two records share:
    which of them is whose span, no one can tell (ids repeat only in a damaged or hostile job)."""
    found: dict[int, Mapping[str, Any]] = {}
    repeated: set[int] = set()
    for record in records:
        span_id = record.get("span_id")
        if isinstance(span_id, str):
            key = int(span_id, 16)
            if key in found:
                repeated.add(key)
            found[key] = record
    for key in repeated:
        del found[key]
    return found


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
        given = [(key, {"key": key, "value": _any_value(value)}) for key, value in given_back(entry).items()]
        attributes = [item for _, item in _merge(list(zip(keys, attributes)), given)]  # type: ignore[arg-type]
    record = {key: value for key, value in entry.items() if key != "span_id"}
    return {**span, "attributes": [*attributes, {"key": RECORD, "value": {"stringValue": compact(record)}}]}
