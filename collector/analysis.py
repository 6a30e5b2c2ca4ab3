"""Turn a job's request and item records into figures, patterns and advice.

Pure functions only: no I/O, no OpenTelemetry imports, so the same code serves
the processor that writes job files, the API and the CLI, and tests need no
fixtures. Plain-text rendering lives in ``report.py`` (re-exported here).

Request record, one per HTTP attempt (a dict; any key may be missing and is
then read as None):
  ``item_id`` str|None, ``attempt`` int (1-based), ``method`` str, ``url`` str
  (already redacted), ``status_code`` int|None (None on a network error),
  ``error_type`` str|None (exception class name, e.g. "ConnectError",
  "ReadTimeout"), ``duration_ms`` float, ``connection_reused`` bool|None
  (None = unknown), ``start_offset_ms`` float (since job start),
  ``http_version`` str|None, ``server`` str|None (Server header),
  ``connect_ms``/``tls_ms``/``ttfb_ms`` float|None, ``retry_after`` str|None,
  ``error_body`` str (only when status >= 400).
Item record: ``item_id`` str, ``outcome`` "succeeded"|"failed", ``error``
  str|None, ``duration_ms`` float|None. Any outcome other than "succeeded"
  counts as failed, so succeeded + failed always equals the total.

Attempt classes: 2xx = successful; status None or >= 400 = failed; anything
else (1xx, 3xx) = other. total = successful + failed + other.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from batch_debug.collector.report import render_text

__all__ = [
    "status_key", "failure_patterns", "latency_percentiles", "environment",
    "recommendations", "summarize", "render_text",
]

Record = Mapping[str, Any]

#: p95 latency (ms) above which responses count as slow.
SLOW_P95_MS = 1000.0
#: Share of new connections (%) above which connection reuse is advised ...
NEW_CONNECTION_SHARE_PERCENT = 50.0
#: ... but only with at least this many attempts whose reuse is known.
MIN_KNOWN_REUSE_ATTEMPTS = 10
#: Item failure rate (%) above which individual processing is advised.
HIGH_ITEM_FAILURE_PERCENT = 50.0
#: An item needs this many all-5xx attempts before we say retries won't help.
PERSISTENT_MIN_ATTEMPTS = 2
#: Most example item ids shown per pattern or message.
MAX_EXAMPLES = 5
#: CLI flags named in advice (the worker's options).
INTERVAL_HINT = "--min-interval 0.5"
SHARED_SESSION_FLAG = "--session-strategy shared"
PER_REQUEST_SESSION_FLAG = "--session-strategy per-request"

# Network errors meaning "no connection / connection dropped", as opposed to timeouts.
CONNECTION_ERRORS = frozenset({"ConnectError", "RemoteProtocolError", "ReadError", "WriteError"})
# Errors a server or proxy causes by closing an idle keep-alive connection we then reuse.
STALE_CONNECTION_ERRORS = ("RemoteProtocolError", "ReadError")
SERVER_INFO_KEYS = ("ServerName", "Version", "ProductName", "OperatingSystem", "Id")

_DESCRIPTIONS = {
    "invalid_item_id": "400 Bad Request: the item id is malformed or the item data is corrupt.",
    "auth": "401/403: the API key was rejected or lacks permission.",
    "not_found": "404 Not Found: the item or its poster no longer exists on the server.",
    "rate_limited": "429 Too Many Requests: the server is rate limiting the client.",
    "server_error": "5xx: the server failed or was overloaded while answering.",
    "client_error": "Other 4xx: the server refused the request as sent.",
}


def status_key(record: Record) -> str:
    """The breakdown key: the status code as text, else the error type."""
    status = record.get("status_code")
    if status is not None:
        return str(status)
    return record.get("error_type") or "NetworkError"


def _failed(record: Record) -> bool:
    status = record.get("status_code")
    return status is None or status >= 400


def _pattern_of(record: Record) -> str:
    status = record.get("status_code")
    if status is None:
        return f"network:{status_key(record)}"
    if status >= 500:
        return "server_error"
    return {400: "invalid_item_id", 401: "auth", 403: "auth", 404: "not_found",
            429: "rate_limited"}.get(status, "client_error")


def _succeeded_items(items: Iterable[Record]) -> set[str]:
    return {i["item_id"] for i in items if i.get("outcome") == "succeeded" and i.get("item_id")}


def _distinct_ids(records: Iterable[Record]) -> list[str]:
    # dict keeps first-seen order, which makes examples stable across runs.
    return list(dict.fromkeys(r["item_id"] for r in records if r.get("item_id")))


def _pct(part: int | float, whole: int | float) -> float | None:
    return round(part * 100.0 / whole, 1) if whole else None


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counter.items())


def failure_patterns(requests: Sequence[Record], items: Iterable[Record] = ()) -> list[dict[str, Any]]:
    """Failed attempts grouped by cause, most frequent first."""
    groups: dict[str, list[Record]] = {}
    for record in requests:
        if _failed(record):
            groups.setdefault(_pattern_of(record), []).append(record)
    succeeded = _succeeded_items(items)
    patterns = []
    for name, records in groups.items():
        ids = _distinct_ids(records)
        description = _DESCRIPTIONS.get(name) or (
            f"{name.split(':', 1)[1]}: the request got no HTTP response (network error).")
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


def latency_percentiles(requests: Iterable[Record]) -> dict[str, float | None]:
    """Percentiles of ``duration_ms`` by linear interpolation between closest
    ranks (numpy's default): rank = p/100 * (n - 1), 0-based."""
    durations = (r.get("duration_ms") for r in requests)
    values = sorted(float(d) for d in durations if isinstance(d, (int, float)) and not isinstance(d, bool))
    keys = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
    if not values:
        return dict.fromkeys(keys)

    def pick(p: float) -> float:
        rank = p / 100.0 * (len(values) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        return values[low] + (values[high] - values[low]) * (rank - low)

    figures = [pick(50), pick(90), pick(95), pick(99), values[-1], sum(values) / len(values)]
    return {k: round(v, 2) for k, v in zip(keys, figures)}


def _connections(requests: Sequence[Record]) -> dict[str, Any]:
    reuse = Counter(r.get("connection_reused") for r in requests)
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
    headers = Counter(r["server"] for r in requests if r.get("server"))
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
        "http_versions": dict(Counter(r["http_version"] for r in requests if r.get("http_version"))),
        "latency_ms": latency_percentiles(requests),
        "connections": _connections(requests),
        "is_jellyfin": is_jellyfin,
    }


def recommendations(requests: Sequence[Record], items: Sequence[Record],
                    env: Mapping[str, Any] | None = None, *,
                    sessions_created: int | None = None) -> list[str]:
    """Advice backed by the figure that triggered it, most important first:
    auth, invalid ids, not found, rate, server, network, slow, sessions, overall.
    When nothing else applies, one message says no problems were found."""
    n = len(requests)
    out: list[str] = []
    by_status: dict[int, list[Record]] = {}
    by_error: dict[str, list[Record]] = {}
    for r in requests:
        if r.get("status_code") is not None:
            by_status.setdefault(r["status_code"], []).append(r)
        elif _failed(r):
            by_error.setdefault(status_key(r), []).append(r)
    succeeded = _succeeded_items(items)

    def share(records: Sequence[Record]) -> str:
        return f"{len(records)} of {n} attempts ({_pct(len(records), n)}%)"

    def examples(records: Iterable[Record]) -> str:
        ids = _distinct_ids(records)
        more = f" and {len(ids) - MAX_EXAMPLES} more" if len(ids) > MAX_EXAMPLES else ""
        return ", ".join(ids[:MAX_EXAMPLES]) + more if ids else "no item id recorded"

    def codes(lo: int, hi: int, exclude: tuple[int, ...] = ()) -> list[Record]:
        return [r for s, rs in sorted(by_status.items()) if lo <= s <= hi and s not in exclude for r in rs]

    if rs := by_status.get(401):
        out.append(f"{share(rs)} were answered 401 Unauthorized: the API key was rejected; check the "
                   "Jellyfin API key in the configuration (JELLYFIN_API_KEY or --api-key) and test "
                   "the connection.")
    if rs := by_status.get(403):
        out.append(f"{share(rs)} were answered 403 Forbidden (items: {examples(rs)}): the API key was "
                   "accepted but lacks permission, or its user cannot access these items; grant the "
                   "user access to the library or use an administrator's API key.")
    if rs := by_status.get(400):
        out.append(f"{share(rs)} were answered 400 Bad Request: verify poster IDs are valid (Jellyfin "
                   f"item ids are 32 hex characters), e.g. {examples(rs)}; remove them from the batch "
                   "or re-scan the library to refresh the item list.")
    if rs := by_status.get(404):
        out.append(f"{share(rs)} were answered 404 Not Found (items: {examples(rs)}): these items were "
                   "probably deleted from Jellyfin after selection; re-scan the library and drop them "
                   "from the batch.")
    if rs := by_status.get(429):
        waits = sorted({str(r["retry_after"]) for r in rs if r.get("retry_after")})
        asked = f" (the server sent Retry-After: {', '.join(waits)})" if waits else ""
        out.append(f"{share(rs)} were answered 429 Too Many Requests: the server is rate limiting; "
                   f"increase the request interval (e.g. {INTERVAL_HINT}), honour Retry-After{asked} "
                   "and lower concurrency.")
    if rs := by_status.get(503):
        out.append(f"{share(rs)} were answered 503 Service Unavailable: the server is overloaded; "
                   f"increase the request interval to reduce server load (e.g. {INTERVAL_HINT}) or "
                   "lower concurrency.")
    if rs := codes(500, 599, exclude=(503,)):
        info = (env or {}).get("server_info") or {}
        name = " ".join(str(info[k]) for k in ("ServerName", "Version") if info.get(k))
        where = f" ({name})" if name else ""
        breakdown = _counts(Counter(status_key(r) for r in rs))
        out.append(f"{share(rs)} were answered server errors ({breakdown}) for items {examples(rs)}: "
                   f"check Jellyfin server logs{where} for potential issues around these requests.")
    attempts_by_item: dict[str, list[Record]] = {}
    for r in requests:
        if r.get("item_id"):
            attempts_by_item.setdefault(r["item_id"], []).append(r)
    persistent = [i for i, rs in attempts_by_item.items()
                  if i not in succeeded and len(rs) >= PERSISTENT_MIN_ATTEMPTS
                  and all((r.get("status_code") or 0) >= 500 for r in rs)]
    if persistent:
        shown = ", ".join(f"{i} ({len(attempts_by_item[i])} attempts)" for i in persistent[:MAX_EXAMPLES])
        out.append(f"{len(persistent)} item(s) got a 5xx answer on every attempt ({shown}): the error "
                   "is persistent for these items, so retries won't help; find these ids in the "
                   "Jellyfin server log (a damaged image or metadata is a likely cause).")

    def errors(group: dict[str, list[Record]], what: str) -> str:
        counts = _counts({k: len(v) for k, v in group.items()})
        return f"{share([r for v in group.values() for r in v])} {what} ({counts})"

    timeouts = {k: v for k, v in by_error.items() if "Timeout" in k}
    if timeouts:
        out.append(errors(timeouts, "timed out") + ": raise the client timeout and check the "
                   "network path to the server.")
    dropped = {k: v for k, v in by_error.items()
               if k not in timeouts and (k in CONNECTION_ERRORS or "reset" in k.lower() or "Connection" in k)}
    if dropped:
        out.append(errors(dropped, "failed with connection errors") + ": the server is "
                   "unreachable or dropping connections; check that Jellyfin is up and the reverse "
                   "proxy's keep-alive and idle-timeout settings.")
    if other := {k: v for k, v in by_error.items() if k not in timeouts and k not in dropped}:
        out.append(errors(other, "failed with other network errors") + ": check "
                   "connectivity to the server.")

    conn = (env or {}).get("connections") or _connections(requests)
    stale = [r for k in STALE_CONNECTION_ERRORS for r in by_error.get(k, []) if r.get("connection_reused")]
    new_share = conn["new_share_percent"]
    # Only when connections were mostly reused: then a stale keep-alive is the likely cause.
    if stale and new_share is not None and new_share < NEW_CONNECTION_SHARE_PERCENT:
        recovered = sum(1 for i in _distinct_ids(stale) if i in succeeded)
        out.append(f"{len(stale)} attempt(s) failed with RemoteProtocolError/ReadError on reused "
                   f"keep-alive connections ({recovered} of those items succeeded on retry): the server "
                   "or a proxy closes idle connections; consider enabling the per-request session "
                   f"strategy ({PER_REQUEST_SESSION_FLAG}) for this environment.")

    latency = (env or {}).get("latency_ms") or latency_percentiles(requests)
    p95 = latency.get("p95_ms")
    if p95 is not None and p95 > SLOW_P95_MS:
        out.append(f"Responses are slow: p95 latency is {p95:.0f} ms (p50 {latency['p50_ms']:.0f} ms, "
                   f"max {latency['max_ms']:.0f} ms), above the {SLOW_P95_MS:.0f} ms threshold; check "
                   "the server's CPU and disk load, and raise the client timeout or lower concurrency.")

    # Fires on measured connection churn only, never on batch size (the seed's bug).
    known = conn["new"] + conn["reused"]
    if known >= MIN_KNOWN_REUSE_ATTEMPTS and (new_share or 0) > NEW_CONNECTION_SHARE_PERCENT:
        made = ""
        if sessions_created and sessions_created > 1:
            made = f", and the job created {sessions_created} HTTP sessions"
        out.append(f"{conn['new']} of {known} attempts with known connection reuse "
                   f"({new_share}%) opened a new connection{made}: reuse connections "
                   f"with the shared session strategy ({SHARED_SESSION_FLAG}).")

    failed_items = [i for i in items if i.get("outcome") != "succeeded"]
    if items and _pct(len(failed_items), len(items)) > HIGH_ITEM_FAILURE_PERCENT:
        out.append(f"{len(failed_items)} of {len(items)} items ({_pct(len(failed_items), len(items))}%) "
                   "failed: use individual processing mode for better reliability, and test the "
                   "failing ids one by one with the Custom ID Test (`batch-debug run-job --server URL "
                   f"--api-key KEY ITEM_ID`), e.g. {examples(failed_items)}.")
    failed_ids = {r["item_id"] for r in requests if r.get("item_id") and _failed(r)}
    silent = [i for i in failed_items if i.get("item_id") not in failed_ids]
    if silent:
        first = silent[0]
        out.append(f"{len(silent)} item(s) failed without a failed HTTP attempt (e.g. "
                   f"{first.get('item_id')}: {first.get('error') or 'no error recorded'}): the failure "
                   "happened in the worker, "
                   "not on the server; see the item errors.")

    if not out:
        out.append("No HTTP requests were recorded for this job, so there is nothing to analyse."
                   if not requests and not items else
                   f"No problems found: none of {n} attempts or {len(items)} items failed"
                   + (f", with p95 latency {p95:.0f} ms." if p95 is not None else "."))
    return list(dict.fromkeys(out))  # no duplicates, order kept


def summarize(job_id: str, requests: Sequence[Record], items: Sequence[Record], *,
              duration_seconds: float, debug_enabled: bool = True,
              env: Mapping[str, Any] | None = None, sessions_created: int | None = None,
              dropped_spans: int = 0) -> dict[str, Any]:
    """The job file's ``summary`` (DESIGN.md keys plus a few extras).

    ``success_rate_percent`` and ``item_success_rate_percent`` are None when
    there is nothing to divide by (0.0 would claim every request failed).
    """
    total = len(requests)
    successful = sum(1 for r in requests if 200 <= (r.get("status_code") or 0) < 300)
    failed = sum(1 for r in requests if _failed(r))
    items_succeeded = sum(1 for i in items if i.get("outcome") == "succeeded")
    return {
        "job_id": job_id,
        "debug_enabled": debug_enabled,
        "duration_seconds": round(duration_seconds, 3),
        "total_requests": total,
        "successful_requests": successful,
        "failed_requests": failed,
        "other_requests": total - successful - failed,
        "success_rate_percent": _pct(successful, total),
        "status_code_breakdown": dict(Counter(status_key(r) for r in requests)),
        "items_total": len(items),
        "items_succeeded": items_succeeded,
        "items_failed": len(items) - items_succeeded,
        "item_success_rate_percent": _pct(items_succeeded, len(items)),
        "failure_patterns": failure_patterns(requests, items),
        "recommendations": recommendations(requests, items, env, sessions_created=sessions_created),
        "retries": sum(1 for r in requests if (r.get("attempt") or 1) > 1),
        "connections": _connections(requests),
        "latency_ms": latency_percentiles(requests),
        "sessions_created": sessions_created,
        "dropped_spans": dropped_spans,
    }
