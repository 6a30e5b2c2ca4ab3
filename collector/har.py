"""A job document as an HTTP Archive (HAR 1.2), for browser dev tools and HAR tools.

Usage::

    document = jobfile.load(path)
    archive = har.from_job(document)          # {"log": {"version": "1.2", ...}}
    text = json.dumps(archive)                # a .har file

Pure: a job document (``README`` "The job file") in, a dict out; no I/O.
One page per job, one entry per request record (HEAD probes, retries and
redirect hops included), in the file's order. Everything comes from the
records, which were redacted when they were recorded: URLs, headers and
error bodies go out as they are in the file, so the archive holds no more
than the job file does. Only answers with status >= 400 kept their headers;
for the others an entry lists the few headers the record kept (``server``,
``location``, ``retry-after``, ``content-type``).

Timings map the recorded phases onto HAR's (all in ms):

- ``connect`` = ``connect_ms`` + ``tls_ms`` (HAR counts ``ssl`` inside
  ``connect``), ``ssl`` = ``tls_ms``; both -1 on a reused connection.
- ``wait`` = ``ttfb_ms`` (request headers sent to response headers in), so
  ``send`` is 0: httpcore marks when sending starts, not when it ends.
- ``receive`` = ``body_ms`` (response headers to the last body byte).
- ``dns`` is -1: httpcore resolves the name inside its TCP connect, so it is
  in ``connect``.
- What ``duration_ms`` holds beyond those phases goes to the phase the
  attempt failed in (``error_phase``: ``connect``, ``send``, ``headers`` ->
  ``wait``, ``body`` -> ``receive``), else to ``blocked`` (waiting for a
  connection from the pool, and the little the phases do not cover).

An entry's ``time`` is the sum of its non-negative timings but ``ssl``, as
HAR requires. An attempt that got no answer has ``status`` 0, an empty
``statusText`` and ``response._error`` (the error type, as browsers write
it); every entry carries ``_batch_debug`` (item id, attempt, error, span id:
HAR allows custom fields that start with ``_``).

Raises :class:`HarError` for a document that has no requests list or a
request that is not an object (a damaged file); values of the wrong type in
a record are read as absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import batch_debug

HAR_VERSION = "1.2"
CREATOR = "batch-debug"
MIME_UNKNOWN = "x-unknown"  # what browsers write when an answer named no type
#: Methods that send no body: their request ``bodySize`` is 0, others' unknown (-1).
_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
#: Where the time ``duration_ms`` holds beyond the recorded phases goes, by ``error_phase``.
_REMAINDER_GOES_TO = {"connect": "connect", "send": "send", "headers": "wait", "body": "receive"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

Record = Mapping[str, Any]


class HarError(ValueError):
    """The job document cannot be turned into an archive (it is damaged)."""


def from_job(document: Record) -> dict[str, Any]:
    """The HAR 1.2 archive of one job document (see the module docstring)."""
    requests = document.get("requests")
    if not isinstance(requests, list):
        raise HarError("the job document holds no requests list")
    if not all(isinstance(record, Mapping) for record in requests):
        raise HarError("the job document's requests list holds something that is not a request record")
    job_id = _text(document.get("job_id")) or "job"
    started = _job_start(document)
    page_id = f"job_{job_id}"
    return {"log": {
        "version": HAR_VERSION,
        "creator": {"name": CREATOR, "version": batch_debug.__version__},
        "pages": [_page(document, page_id, job_id, started)],
        "entries": [entry(record, started, page_id) for record in requests],
        "comment": "Recorded by batch-debug: URLs, headers and bodies are redacted; only answers with "
                   "status >= 400 kept all their headers.",
    }}


def entry(record: Record, job_started: datetime, page_id: str | None = None) -> dict[str, Any]:
    """The HAR entry of one request record; ``job_started`` is when its job began."""
    offset = _number(record.get("start_offset_ms"))
    started = job_started + timedelta(milliseconds=offset or 0.0)
    timings = _timings(record)
    status = _integer(record.get("status_code"))
    url = _text(record.get("url"))
    found: dict[str, Any] = {}
    if page_id is not None:
        found["pageref"] = page_id
    found.update({
        "startedDateTime": _iso(started),
        "time": round(sum(v for k, v in timings.items() if k != "ssl" and v > 0), 3),
        "request": _request(record, url),
        "response": _response(record, status),
        "cache": {},
        "timings": timings,
        "_batch_debug": _extras(record),
    })
    return found


def _timings(record: Record) -> dict[str, float]:
    connect, tls = _number(record.get("connect_ms")), _number(record.get("tls_ms"))
    ttfb, body = _number(record.get("ttfb_ms")), _number(record.get("body_ms"))
    timings: dict[str, float] = {
        "blocked": -1.0,
        "dns": -1.0,
        "connect": (connect or 0.0) + (tls or 0.0) if connect is not None or tls is not None else -1.0,
        "ssl": tls if tls is not None else -1.0,
        "send": 0.0,
        "wait": ttfb if ttfb is not None else 0.0,
        "receive": body if body is not None else 0.0,
    }
    duration = _number(record.get("duration_ms"))
    if duration is not None:
        phases = sum(v for k, v in timings.items() if k != "ssl" and v > 0)
        remainder = max(0.0, duration - phases)
        target = _REMAINDER_GOES_TO.get(_text(record.get("error_phase")), "blocked")
        timings[target] = max(0.0, timings[target]) + remainder
    return {k: round(v, 3) for k, v in timings.items()}


def _request(record: Record, url: str) -> dict[str, Any]:
    method = _text(record.get("method")) or "GET"
    return {
        "method": method,
        "url": url,
        "httpVersion": _text(record.get("http_version")),
        "cookies": [],
        "headers": _header_list(record.get("request_headers")),
        "queryString": [{"name": n, "value": v} for n, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": 0 if method.upper() in _BODYLESS else -1,
    }


def _response(record: Record, status: int | None) -> dict[str, Any]:
    body_bytes = _integer(record.get("body_bytes"))
    headers = record.get("response_headers")
    content: dict[str, Any] = {"size": body_bytes or 0, "mimeType": _mime(record, headers)}
    error_body = record.get("error_body")
    if isinstance(error_body, str) and error_body:
        content["text"] = error_body
        if record.get("error_body_truncated") is True:
            content["comment"] = "the readable text of the body, cut short"
    found: dict[str, Any] = {
        "status": status or 0,
        "statusText": _status_text(status),
        "httpVersion": _text(record.get("http_version")) if status is not None else "",
        "cookies": [],
        "headers": _header_list(headers) if isinstance(headers, Mapping) else _kept_headers(record),
        "content": content,
        "redirectURL": _text(record.get("redirect_to")),
        "headersSize": -1,
        "bodySize": body_bytes if status is not None and body_bytes is not None else -1,
    }
    error = _text(record.get("error_type"))
    if error:
        phase = _text(record.get("error_phase"))
        found["_error"] = f"{error} ({phase})" if phase else error
    return found


def _extras(record: Record) -> dict[str, Any]:
    """Our own fields (HAR allows ``_``-prefixed ones): what ties the entry to its item and span."""
    keys = ("item_id", "attempt", "route", "span_id", "error_type", "error_phase", "connection_reused",
            "credential_form", "body_complete", "retry_after")
    return {key: record[key] for key in keys if record.get(key) is not None}


def _page(document: Record, page_id: str, job_id: str, started: datetime) -> dict[str, Any]:
    summary = document.get("summary")
    seconds = _number(summary.get("duration_seconds")) if isinstance(summary, Mapping) else None
    return {
        "startedDateTime": _iso(started),
        "id": page_id,
        "title": f"batch-debug job {job_id}",
        "pageTimings": {"onContentLoad": -1, "onLoad": round(seconds * 1000, 3) if seconds is not None else -1},
    }


def _job_start(document: Record) -> datetime:
    """When the job began: ``started_at``, else ``generated_at`` (old or odd files), else the epoch."""
    for key in ("started_at", "generated_at"):
        value = document.get(key)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return _EPOCH


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status_text(status: int | None) -> str:
    if status is None:
        return ""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _mime(record: Record, headers: Any) -> str:
    content_type = _text(record.get("content_type"))
    if not content_type and isinstance(headers, Mapping):
        content_type = _text(headers.get("content-type"))
    return content_type or MIME_UNKNOWN


def _header_list(headers: Any) -> list[dict[str, str]]:
    if not isinstance(headers, Mapping):
        return []
    return [{"name": str(name), "value": str(value)} for name, value in headers.items()]


def _kept_headers(record: Record) -> list[dict[str, str]]:
    """The response headers a record keeps as fields of its own (all it has below status 400)."""
    kept = (("server", "server"), ("location", "redirect_to"), ("retry-after", "retry_after"),
            ("content-type", "content_type"))
    return [{"name": name, "value": _text(record.get(key))} for name, key in kept if _text(record.get(key))]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    """A duration or offset: a finite number >= 0, else None (absent, text, negative, a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
