"""Turn a job's request and item records into figures; the findings come from ``diagnosis``.

Pure functions only: no I/O, no OpenTelemetry imports, so the same code serves
the processor that writes job files, the API and the CLI, and tests need no
fixtures. Plain-text rendering lives in ``report.py`` (re-exported here).

Request record, one per HTTP attempt (a dict; any key may be missing and is
then read as None; ``records.request_record`` builds them):
  ``item_id`` str|None, ``attempt`` int (1-based), ``method`` str, ``url`` str
  (already redacted), ``route`` (Jellyfin route template), ``status_code``
  int|None (None when no answer came), ``error_type`` str|None (exception
  class name, e.g. "ConnectError", "ReadTimeout"; also set when the body
  failed after a status came), ``error_phase`` ("pool", "connect", "send",
  "headers", "body"), ``duration_ms`` (the whole exchange, body included),
  ``start_offset_ms`` (since job start), ``connection_reused`` bool|None,
  ``connect_ms``/``tls_ms``/``ttfb_ms`` (request sent to headers received),
  ``body_bytes``, ``body_ms`` (headers to last byte), ``http_version``,
  ``server`` (Server header), ``conn_close``, ``retry_after``,
  ``redirect_to``, ``credential_form``/``credential_fp`` (how the key was
  sent, and its fingerprint), and for status >= 400 ``content_type``,
  ``error_body`` (readable text, at most 2 KB), ``error_body_bytes``,
  ``error_body_truncated``.
Item record: ``item_id`` str, ``outcome`` "succeeded"|"failed", ``error``
  str|None, ``duration_ms`` float|None, ``start_offset_ms``.

Attempt classes (``attempts``): successful = 2xx whose body arrived; failed
= no answer, >= 400, or a body that broke off; other = 1xx/3xx (redirect
hops: counted in the totals and the breakdown, never as failures).
``success_rate_percent`` = successful / (successful + failed): a job in
which nothing failed reads 100% however many redirects it followed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from batch_debug.collector import diagnosis
from batch_debug.collector.attempts import broke_in_body, column, failed as _failed, numbers, status_key, status_keys
from batch_debug.collector.diagnosis.view import JobView
from batch_debug.collector.ranks import Ranks
from batch_debug.collector.report import render_text
from batch_debug.collector.time_columns import floats_in_place

__all__ = [
    "status_key", "failure_patterns", "latency_percentiles", "environment", "diagnose", "summarize",
    "render_text",
]

Record = Mapping[str, Any]

#: Most example item ids shown per pattern.
MAX_EXAMPLES = 5
SERVER_INFO_KEYS = ("ServerName", "Version", "ProductName", "OperatingSystem", "Id")

_DESCRIPTIONS = {
    "invalid_item_id": "400 Bad Request: the server refused the item id as malformed.",
    "auth": "401/403: the API key was refused or lacks permission.",
    "not_found": "404 Not Found: the item or its poster does not exist on the server.",
    "rate_limited": "429 Too Many Requests: the server is rate limiting the client.",
    "server_error": "5xx: the server (or a proxy in front of it) failed to answer.",
    "client_error": "Other 4xx: the server refused the request as sent.",
}


def _pattern_of(record: Record) -> str:
    status = record.get("status_code")
    if record.get("error_phase") == "aborted":
        return f"aborted:{record.get('error_type')}"
    if broke_in_body(record):
        return f"body:{record.get('error_type')}"
    if status is None:
        return f"network:{status_key(record)}"
    if status >= 500:
        return "server_error"
    return {400: "invalid_item_id", 401: "auth", 403: "auth", 404: "not_found",
            429: "rate_limited"}.get(status, "client_error")


def _succeeded_items(items: Iterable[Record]) -> set[str]:
    if not isinstance(items, Sequence):
        items = list(items)
    # By column: the head's items are made when read (``item_columns.HeadItems``), its columns are not.
    return {i for i, outcome in zip(column(items, "item_id"), column(items, "outcome")) if outcome == "succeeded" and i}


def _distinct_ids(records: Iterable[Record]) -> list[str]:
    # dict keeps first-seen order, which makes examples stable across runs.
    return list(dict.fromkeys(r["item_id"] for r in records if r.get("item_id")))


def _pct(part: int | float, whole: int | float) -> float | None:
    return round(part * 100.0 / whole, 1) if whole else None


def failure_patterns(requests: Sequence[Record], items: Iterable[Record] = ()) -> list[dict[str, Any]]:
    """Failed attempts grouped by cause, most frequent first (``requests`` may hold only the failed ones)."""
    groups: dict[str, list[Record]] = {}
    for record in requests:
        if _failed(record):
            groups.setdefault(_pattern_of(record), []).append(record)
    succeeded = _succeeded_items(items) if groups else set()
    patterns: list[dict[str, Any]] = []
    for name, records in groups.items():
        ids = _distinct_ids(records)
        kind, _, error = name.partition(":")
        description = _DESCRIPTIONS.get(name) or (
            f"{error}: the body broke off after the answer began." if kind == "body" else
            f"{error}: the job closed its client or cancelled the request while it was in flight."
            if kind == "aborted" else f"{error}: the request got no HTTP response (network error).")
        patterns.append({
            "pattern": name,
            "description": description,
            "count": len(records),
            "status_codes": dict(Counter(status_key(r) for r in records)),
            "items_affected": len(ids),
            "example_item_ids": ids[:MAX_EXAMPLES],
            "recovered_items": sum(1 for i in ids if i in succeeded),
        })
    patterns.sort(key=lambda p: (-p["count"], p["pattern"]))
    return patterns


def latency_percentiles(requests: Iterable[Record], key: str = "duration_ms") -> dict[str, float | None]:
    """Percentiles of ``key`` (default: the whole exchange) by linear interpolation between
    closest ranks (numpy's default): rank = p/100 * (n - 1), 0-based; and the max and the mean."""
    durations = column(requests if isinstance(requests, Sequence) else list(requests), key)
    # The spool's column of a time every request has is an array of floats: read in place (a list of a
    # million float objects, and its sorted copy, were 40 MB).
    values = durations if floats_in_place(durations) else numbers(durations)
    keys = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
    if not values:
        return dict.fromkeys(keys)
    ranks = Ranks(values)
    last = len(values) - 1

    def pick(p: float) -> float:
        rank = p / 100.0 * last
        low, high = math.floor(rank), math.ceil(rank)
        at_low = ranks.nth(low)
        return at_low + (ranks.nth(high) - at_low) * (rank - low)

    figures = [pick(50), pick(90), pick(95), pick(99), max(values), math.fsum(values) / len(values)]
    return {k: round(v, 2) for k, v in zip(keys, figures)}


def _connections(requests: Sequence[Record]) -> dict[str, Any]:
    reuse = Counter(column(requests, "connection_reused"))
    new, reused = reuse[False], reuse[True]
    return {"new": new, "reused": reused, "unknown": len(requests) - new - reused,
            "new_share_percent": _pct(new, new + reused)}


def environment(server_info: Mapping[str, Any] | None, requests: Sequence[Record], *,
                server_info_error: str | None = None) -> dict[str, Any]:
    """What the job learned about the server.

    ``is_jellyfin``: when /System/Info/Public gave a ProductName, whether it
    contains "Jellyfin"; otherwise True if a Server header names Jellyfin or
    Kestrel (the ASP.NET server Jellyfin runs on), else None (unknown: a
    reverse proxy may hide the real server).
    """
    info = {k: server_info[k] for k in SERVER_INFO_KEYS if server_info and k in server_info} or None
    headers = Counter(filter(None, column(requests, "server")))
    if info and info.get("ProductName"):
        is_jellyfin: bool | None = "jellyfin" in str(info["ProductName"]).lower()
    elif any("jellyfin" in h.lower() or "kestrel" in h.lower() for h in headers):
        is_jellyfin = True
    else:
        is_jellyfin = None
    return {
        "server_info": info,
        "server_info_error": server_info_error,
        "server_header": headers.most_common(1)[0][0] if headers else None,
        "server_headers": dict(headers),
        "http_versions": dict(Counter(filter(None, column(requests, "http_version")))),
        "latency_ms": latency_percentiles(requests),
        "ttfb_ms": latency_percentiles(requests, "ttfb_ms"),
        "connections": _connections(requests),
        "is_jellyfin": is_jellyfin,
    }


def diagnose(requests: Sequence[Record], items: Sequence[Record], *, life: Mapping[str, Any] | None = None,
             env: Mapping[str, Any] | None = None,
             sessions_created: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """(findings as dicts, recommendations as text) for a job's records (see ``diagnosis``)."""
    view = JobView(requests, items, life=life, env=env, sessions_created=sessions_created)
    findings = diagnosis.diagnose(view)
    return [f.to_dict() for f in findings], diagnosis.render(findings, view)


def summarize(job_id: str, requests: Sequence[Record], items: Sequence[Record], *,
              duration_seconds: float, debug_enabled: bool = True,
              env: Mapping[str, Any] | None = None, life: Mapping[str, Any] | None = None,
              sessions_created: int | None = None, dropped_spans: int = 0,
              dropped_records: int = 0) -> dict[str, Any]:
    """The job file's ``summary`` (DESIGN.md keys plus the job's life, findings and a few extras).

    ``life`` is ``jobspan.job_life``; without it the job counts as complete
    with the items it finished. Items: ``items_total`` is what the job
    declared (``items_total`` of ``job_span``, else the items it started);
    ``items_total == items_succeeded + items_failed + items_unfinished +
    items_not_started``, and only ``items_failed`` are failures.
    ``success_rate_percent`` (requests) and ``item_success_rate_percent``
    (succeeded / ``items_total``) are None when there is nothing to divide by.
    """
    life = dict(life) if life is not None else {"ended": True, "complete": True}
    view = JobView(requests, items, life=life, env=env, sessions_created=sessions_created,
                   duration_ms=duration_seconds * 1000)
    findings = diagnosis.diagnose(view)
    total = len(requests)
    successful, failed = len(view.ok), len(view.failed)
    counts = view.item_counts
    return {
        "job_id": job_id,
        "debug_enabled": debug_enabled,
        "complete": bool(life.get("complete", True)),
        "job_error": life.get("error"),
        "duration_seconds": round(duration_seconds, 3),
        "total_requests": total,
        "successful_requests": successful,
        "failed_requests": failed,
        "other_requests": total - successful - failed,
        "success_rate_percent": _pct(successful, successful + failed),
        "status_code_breakdown": dict(Counter(status_keys(requests))),
        "items_total": counts["total"],
        "items_started": counts["started"],
        "items_succeeded": counts["succeeded"],
        "items_failed": counts["failed"],
        "items_unfinished": counts["unfinished"],
        "items_not_started": counts["not_started"],
        "item_success_rate_percent": _pct(counts["succeeded"], counts["total"]),
        "failure_patterns": failure_patterns(view.failed, items),
        "findings": [f.to_dict() for f in findings],
        "recommendations": diagnosis.render(findings, view),
        "retries": sum(1 for attempt in column(requests, "attempt") if (attempt or 1) > 1),
        "connections": (env or {}).get("connections") or _connections(requests),
        "peak_concurrency": view.peak_concurrency,
        "latency_ms": (env or {}).get("latency_ms") or latency_percentiles(requests),
        "sessions_created": sessions_created,
        "requests_outside_jobs": int(life.get("requests_outside_jobs") or 0),
        "dropped_spans": dropped_spans,
        "dropped_records": dropped_records,
    }
