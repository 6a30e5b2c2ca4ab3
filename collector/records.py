"""Turn a job's finished spans into the plain records that ``analysis`` reads.

One request record per HTTP attempt span (ours, or another instrumentation's
CLIENT span, whichever semantic-convention names it carries) and one item
record per item span (the job's life from its job span: ``jobspan``). This
is the only module that knows both attempt span attribute names and record
keys, and the only reader of attempt spans: the local processor, the assembler (spans from
an exporter or another host) and a replay of a job file's own spans all get
the same records from the same spans.

A record is type-checked as it is read (:func:`check_record`): spans may
come from anywhere (OTLP from other hosts), and one ``error_body`` that is a
number would break the job's page, one ``status_code`` that is text the
analysis. A record that fails is :class:`DamagedRecord`; the caller drops it
and counts it (``dropped_records`` in the job file).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from . import attributes as A
from .redact import redact_url
from .routes import route_of


#: Most characters of an attempt's error message a record keeps (``error_message``).
ERROR_MESSAGE_CHARS = 500


class DamagedRecord(ValueError):
    """A request record that cannot be read, or a known key of it with the wrong type."""


_NONE: type = type(None)
_TEXT: frozenset[type] = frozenset({str})
_TEXT_OR_NONE: frozenset[type] = frozenset({str, _NONE})
_INT: frozenset[type] = frozenset({int})
_INT_OR_NONE: frozenset[type] = frozenset({int, _NONE})
_NUMBER_OR_NONE: frozenset[type] = frozenset({int, float, _NONE})
_BOOL_OR_NONE: frozenset[type] = frozenset({bool, _NONE})
_HEADERS: frozenset[type] = frozenset({dict})

#: The types each known record key may have (README "Requests"); ``bool`` is no number here.
#: Keys not listed pass as they are (they came from JSON and nothing reads them).
RECORD_TYPES: dict[str, frozenset[type]] = {
    "item_id": _TEXT_OR_NONE, "attempt": _INT, "method": _TEXT, "url": _TEXT, "route": _TEXT_OR_NONE,
    "status_code": _INT_OR_NONE, "error_type": _TEXT_OR_NONE, "error_phase": _TEXT_OR_NONE,
    "duration_ms": _NUMBER_OR_NONE, "start_offset_ms": _NUMBER_OR_NONE, "connect_ms": _NUMBER_OR_NONE,
    "tls_ms": _NUMBER_OR_NONE, "ttfb_ms": _NUMBER_OR_NONE, "body_ms": _NUMBER_OR_NONE,
    "connection_reused": _BOOL_OR_NONE, "conn_close": _BOOL_OR_NONE, "body_complete": _BOOL_OR_NONE,
    "error_body_truncated": _BOOL_OR_NONE, "body_bytes": _INT, "error_body_bytes": _INT,
    "http_version": _TEXT_OR_NONE, "server": _TEXT_OR_NONE, "content_type": _TEXT_OR_NONE,
    "retry_after": _TEXT_OR_NONE, "redirect_to": _TEXT_OR_NONE, "credential_form": _TEXT_OR_NONE,
    "credential_fp": _TEXT_OR_NONE, "request_headers": _HEADERS, "response_headers": _HEADERS,
    "error_body": _TEXT, "span_id": _TEXT, "body_kind": _TEXT_OR_NONE, "body_text": _TEXT_OR_NONE,
    "error_message": _TEXT_OR_NONE,
}
_NAMES = {str: "text", int: "an integer", float: "a number", bool: "true/false", _NONE: "null", dict: "an object"}


def check_record(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` if every known key has its type (see ``RECORD_TYPES``), else :class:`DamagedRecord`."""
    for key, value in record.items():
        allowed = RECORD_TYPES.get(key)
        if allowed is None:
            continue
        kind = type(value)
        if kind not in allowed:
            expected = " or ".join(sorted(_NAMES[t] for t in allowed))
            raise DamagedRecord(f"record key {key!r} must be {expected}, not {str(value)[:40]!r}")
        if kind is float and not math.isfinite(value):
            raise DamagedRecord(f"record key {key!r} must be a finite number, not {value!r}")
        if kind is dict and not all(type(k) is str and type(v) is str for k, v in value.items()):
            raise DamagedRecord(f"record key {key!r} must map header names to text")
    return record


def _first(attrs: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def _headers(attrs: Mapping[str, Any], key: str) -> dict[str, str]:
    raw = attrs.get(key)
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}



def _exception_type(span: ReadableSpan) -> str | None:
    for event in span.events:
        if event.name == "exception" and event.attributes:
            name = event.attributes.get("exception.type")
            if name:
                return str(name).rsplit(".", 1)[-1]
    return None


def _exception_message(span: ReadableSpan) -> str | None:
    """The ``exception.message`` of the span's first exception event (another instrumentation's span), at
    most as long as ours (``instrumentation.exchange``)."""
    for event in span.events:
        if event.name == "exception" and event.attributes:
            message = event.attributes.get("exception.message")
            if isinstance(message, str) and message:
                return message[:ERROR_MESSAGE_CHARS]
    return None


def is_request_span(span: ReadableSpan) -> bool:
    """True for an HTTP client attempt span."""
    attrs = span.attributes or {}
    return span.kind == SpanKind.CLIENT and (A.HTTP_METHOD_OLD in attrs or A.HTTP_METHOD_NEW in attrs)


def is_item_span(span: ReadableSpan) -> bool:
    attrs = span.attributes or {}
    return span.kind == SpanKind.INTERNAL and A.ITEM_OUTCOME in attrs


def _extras(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = attrs.get(A.RECORD)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise DamagedRecord(f"{A.RECORD} is not text")
    try:
        value = orjson.loads(raw)
    except ValueError as exc:
        raise DamagedRecord(f"{A.RECORD} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DamagedRecord(f"{A.RECORD} is not a JSON object")
    return value


def request_record(span: ReadableSpan, job_start_ns: int | None) -> dict[str, Any]:
    """The request record of one HTTP attempt span (see ``analysis``).

    The one reading of attempt spans, whoever made them: ours carry the
    semantic-convention attributes plus ``batch_debug.record`` (the rest of
    the record; ``instrumentation.exchange`` writes it); spans of other
    instrumentation give what their attributes hold. ``job_start_ns`` gives
    the start offset when the span does not carry it (None: unknown yet,
    the caller sets ``start_offset_ms`` later).

    Raises ``ValueError`` (:class:`DamagedRecord`) or ``TypeError`` for a
    span whose record cannot be read or has a key of the wrong type: the
    caller drops that record and counts it.
    """
    attrs = span.attributes or {}
    extras = _extras(attrs)
    if extras is not None:
        # Ours (the hot case, one per request): its URL was redacted when it was recorded, and a span
        # from elsewhere claiming to be ours went through ``sanitize`` first: read as it is.
        record = _base(span, job_start_ns, attrs.get(A.HTTP_METHOD_NEW), str(attrs.get(A.HTTP_URL_NEW) or ""),
                       attrs.get(A.HTTP_STATUS_NEW), attrs.get(A.ERROR_TYPE), attrs)
        record.update(extras)
    else:
        url = redact_url(str(_first(attrs, A.HTTP_URL_NEW, A.HTTP_URL_OLD) or ""))
        record = _base(span, job_start_ns, _first(attrs, A.HTTP_METHOD_NEW, A.HTTP_METHOD_OLD), url,
                       _first(attrs, A.HTTP_STATUS_NEW, A.HTTP_STATUS_OLD), _first(attrs, A.ERROR_TYPE), attrs)
        _from_stock_attributes(record, span, attrs)
    record["span_id"] = f"{span.context.span_id:016x}"
    return check_record(record)


def _base(span: ReadableSpan, job_start_ns: int | None, method: Any, url: str, status: Any, error_type: Any,
          attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The keys every request record has, in their order."""
    if error_type is not None and status is not None and str(error_type) == str(status):
        error_type = None  # semantic conventions put the status there for HTTP errors
    start = span.start_time or job_start_ns or 0
    end = span.end_time or start
    template = attrs.get(A.URL_TEMPLATE)
    # A span's url.template is one of a few strings (its route is cached); its URL is one per item (4 us
    # to parse and match, uncached). Both give the same route: route_of reads a template as a path.
    route = route_of(template) if isinstance(template, str) and template.startswith("/") else route_of(url)
    return {
        "item_id": attrs.get(A.REQUEST_ITEM_ID),
        "attempt": int(attrs.get(A.RESEND_COUNT, 0)) + 1,
        "method": str(method or ""),
        "url": url,
        "route": route,
        "status_code": int(status) if status is not None else None,
        "error_type": error_type,
        "duration_ms": round((end - start) / 1e6, 3),
        "start_offset_ms": round((start - job_start_ns) / 1e6, 3) if job_start_ns is not None else None,
        "connection_reused": None,
        "http_version": None,
        "server": None,
    }


def _from_stock_attributes(record: dict[str, Any], span: ReadableSpan, attrs: Mapping[str, Any]) -> None:
    """What a span without our record attribute tells (the stock httpx span with our hooks, or others)."""
    if record["status_code"] is None and record["error_type"] is None:
        record["error_type"] = _exception_type(span) or "NetworkError"
    if record["status_code"] is None:
        message = _exception_message(span)
        if message is not None:
            record["error_message"] = message  # a span from elsewhere was redacted whole (sanitize)
    elif record["status_code"] is not None and record["error_type"] is not None:
        record["error_phase"] = "body"  # an error after the answer came: its body broke off
    response_headers = _headers(attrs, A.RESPONSE_HEADERS)
    record.update(connection_reused=attrs.get(A.CONNECTION_REUSED), http_version=attrs.get(A.HTTP_VERSION),
                  server=attrs.get(A.SERVER_HEADER))
    for key, attr in (("connect_ms", A.CONNECT_MS), ("tls_ms", A.TLS_MS), ("ttfb_ms", A.TTFB_MS)):
        if attrs.get(attr) is not None:
            record[key] = attrs[attr]
    if response_headers.get("retry-after"):
        record["retry_after"] = response_headers["retry-after"]
    status = record["status_code"]
    if status is not None and status >= 400:
        record["request_headers"] = _headers(attrs, A.REQUEST_HEADERS)
        record["response_headers"] = response_headers
        record["error_body"] = attrs.get(A.ERROR_BODY, "")


def item_record(span: ReadableSpan) -> dict[str, Any]:
    """The item record of one item span; ``started_ns`` is the caller's to turn into an offset."""
    attrs = span.attributes or {}
    outcome = attrs.get(A.ITEM_OUTCOME)
    if outcome not in ("succeeded", "failed"):
        outcome = "failed" if span.status.status_code == StatusCode.ERROR else "succeeded"
    start, end = span.start_time or 0, span.end_time or 0
    record = {
        "item_id": str(attrs.get(A.ITEM_ID)),
        "outcome": outcome,
        "error": attrs.get(A.ITEM_ERROR),
        "duration_ms": round((end - start) / 1e6, 3) if end else None,
        "started_ns": start,
    }
    thread = attrs.get(A.THREAD_NAME)
    if isinstance(thread, str):
        record["thread"] = thread
    given = {key[len(A.ITEM_ATTR_PREFIX):]: value for key, value in attrs.items()
             if key.startswith(A.ITEM_ATTR_PREFIX) and isinstance(value, (str, bool, int, float))}
    if given:
        record["attributes"] = given
    return record


def job_records(
    spans: Iterable[ReadableSpan], job_start_ns: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(request records sorted by start time, item records sorted likewise); damaged records are left out."""
    requests: list[tuple[int, dict[str, Any]]] = []
    items: list[tuple[int, dict[str, Any]]] = []
    for span in spans:
        if is_request_span(span):
            try:
                requests.append((span.start_time or 0, request_record(span, job_start_ns)))
            except (ValueError, TypeError):
                continue
        elif is_item_span(span):
            items.append((span.start_time or 0, item_record(span)))
    requests.sort(key=lambda pair: pair[0])
    items.sort(key=lambda pair: pair[0])
    return [r for _, r in requests], [i for _, i in items]
