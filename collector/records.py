"""Turn a job's finished spans into the plain records that ``analysis`` reads.

One request record per HTTP attempt span (the httpx CLIENT span, whichever
semantic-convention names it carries), one item record per item span. This
is the only module that knows both span attribute names and record keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from . import attributes as A
from .redact import redact_url


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
        value = json.loads(raw)
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


def is_request_span(span: ReadableSpan) -> bool:
    """True for an HTTP client attempt span."""
    attrs = span.attributes or {}
    return span.kind == SpanKind.CLIENT and (A.HTTP_METHOD_OLD in attrs or A.HTTP_METHOD_NEW in attrs)


def is_item_span(span: ReadableSpan) -> bool:
    attrs = span.attributes or {}
    return span.kind == SpanKind.INTERNAL and A.ITEM_OUTCOME in attrs


def request_record(span: ReadableSpan, job_start_ns: int) -> dict[str, Any]:
    """The request record of one HTTP attempt span (see ``analysis``)."""
    attrs = span.attributes or {}
    status = _first(attrs, A.HTTP_STATUS_NEW, A.HTTP_STATUS_OLD)
    error_type = None
    if status is None:
        error_type = _exception_type(span) or _first(attrs, A.ERROR_TYPE) or "NetworkError"
    url = _first(attrs, A.URL_REDACTED, A.HTTP_URL_NEW, A.HTTP_URL_OLD) or ""
    response_headers = _headers(attrs, A.RESPONSE_HEADERS)
    start = span.start_time or job_start_ns
    end = span.end_time or start
    record: dict[str, Any] = {
        "item_id": attrs.get(A.REQUEST_ITEM_ID),
        "attempt": int(attrs.get(A.RESEND_COUNT, 0)) + 1,
        "method": str(_first(attrs, A.HTTP_METHOD_NEW, A.HTTP_METHOD_OLD) or ""),
        "url": redact_url(str(url)),
        "status_code": int(status) if status is not None else None,
        "error_type": error_type,
        "duration_ms": round((end - start) / 1e6, 3),
        "start_offset_ms": round((start - job_start_ns) / 1e6, 3),
        "connection_reused": attrs.get(A.CONNECTION_REUSED),
        "http_version": attrs.get(A.HTTP_VERSION),
        "server": attrs.get(A.SERVER_HEADER),
        "connect_ms": attrs.get(A.CONNECT_MS),
        "tls_ms": attrs.get(A.TLS_MS),
        "ttfb_ms": attrs.get(A.TTFB_MS),
        "retry_after": response_headers.get("retry-after"),
        "request_headers": _headers(attrs, A.REQUEST_HEADERS),
        "response_headers": response_headers,
        "span_id": f"{span.context.span_id:016x}",
    }
    if status is not None and int(status) >= 400:
        record["error_body"] = attrs.get(A.ERROR_BODY, "")
    return record


def item_record(span: ReadableSpan) -> dict[str, Any]:
    attrs = span.attributes or {}
    outcome = attrs.get(A.ITEM_OUTCOME)
    if outcome not in ("succeeded", "failed"):
        outcome = "failed" if span.status.status_code == StatusCode.ERROR else "succeeded"
    start, end = span.start_time or 0, span.end_time or 0
    return {
        "item_id": str(attrs.get(A.ITEM_ID)),
        "outcome": outcome,
        "error": attrs.get(A.ITEM_ERROR),
        "duration_ms": round((end - start) / 1e6, 3) if end else None,
    }


def job_records(
    spans: Iterable[ReadableSpan], job_start_ns: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(request records sorted by start time, item records sorted likewise)."""
    requests: list[tuple[int, dict[str, Any]]] = []
    items: list[tuple[int, dict[str, Any]]] = []
    for span in spans:
        if is_request_span(span):
            requests.append((span.start_time or 0, request_record(span, job_start_ns)))
        elif is_item_span(span):
            items.append((span.start_time or 0, item_record(span)))
    requests.sort(key=lambda pair: pair[0])
    items.sort(key=lambda pair: pair[0])
    return [r for _, r in requests], [i for _, i in items]


def server_info(job_span: ReadableSpan | None) -> tuple[dict[str, Any] | None, str | None]:
    """(``/System/Info/Public`` fields recorded on the job span, probe error)."""
    if job_span is None:
        return None, None
    attrs = job_span.attributes or {}
    prefix = A.SERVER_INFO_PREFIX
    info = {k[len(prefix):]: v for k, v in attrs.items() if k.startswith(prefix)}
    return (info or None), attrs.get(A.SERVER_INFO_ERROR)
