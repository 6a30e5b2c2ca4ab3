"""What the rules read: a job's records sorted and grouped once, and the evidence they share.

A :class:`JobView` is built once per diagnosis from the request records,
the item records, the job's life and the environment; rules only read it.
It finds the *failure windows*: stretches of time in which every attempt,
whatever its item, failed the same way (the server or the proxy in front of
it was unavailable), so the rules can tell an outage from bad items.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .. import attempts as R
from .text import MAX_EXAMPLES

Record = Mapping[str, Any]

#: A failure window spans at least this many items and attempts ...
MIN_WINDOW_ITEMS = 3
MIN_WINDOW_ATTEMPTS = 4
#: ... and this share of its attempts fail the same way (same status, or all transport errors).
WINDOW_SAME_SHARE = 0.8

#: Items that fail this close to the end of a job that raised failed because it was winding up.
CRASH_TAIL_MS = 100.0
#: Server header names of reverse proxies, load balancers and CDNs (lower-case substrings).
PROXY_NAMES = ("nginx", "openresty", "apache", "caddy", "traefik", "envoy", "haproxy", "cloudflare", "squid",
               "varnish", "lighttpd", "microsoft-iis", "istio", "akamai", "cloudfront", "tengine", "pingora")
#: Server header names Jellyfin answers with (Kestrel is its ASP.NET Core server).
JELLYFIN_NAMES = ("kestrel", "jellyfin", "emby")
_TAG = re.compile(r"^\s*<")


@dataclass
class Window:
    """A stretch of the job in which every attempt failed the same way (see the module doc)."""

    attempts: list[Record]
    keys: list[str]  # distinct items (or URLs for attempts outside items), first-seen order
    signature: str  # the dominant outcome: a status code, or "transport error"
    before_ok: bool  # an attempt that started earlier succeeded
    after_ok: bool  # an attempt that started later succeeded
    under_way: int = 0  # answers inside the stretch to requests sent while its failures were in flight

    @property
    def start_ms(self) -> float:
        return float(self.attempts[0].get("start_offset_ms") or 0.0)

    @property
    def end_ms(self) -> float:
        return max(float(r.get("start_offset_ms") or 0.0) + float(r.get("duration_ms") or 0.0)
                   for r in self.attempts)

    @property
    def kind(self) -> str:
        """``outage`` (recovered), ``down`` (not back by the job's end), ``never`` (no success at all),
        ``late_start`` (nothing worked until it began to)."""
        if self.before_ok:
            return "outage" if self.after_ok else "down"
        return "late_start" if self.after_ok else "never"


def _key(record: Record) -> str:
    return str(record.get("item_id") or record.get("url") or "?")


def _signature(record: Record) -> str:
    if record.get("status_code") is None or R.broke_in_body(record):
        return "transport error"
    return str(record.get("status_code"))


def _unavailable(record: Record) -> bool:
    """A failure that says the server side was not serving: 5xx, or no answer at all.

    Not the client's own pool, not what the job aborted itself, and not a body
    that broke off: an answer that began came from a server that was there
    (that is the body rules' to tell).
    """
    if not R.failed(record) or R.phase(record) in ("pool", "body", "aborted"):
        return False
    status = record.get("status_code")
    return status is None or status >= 500


def _gone(records: Sequence[Record]) -> bool:
    """Evidence that the server side itself was gone, not only the work that was left:
    refused connections, a gateway's answer, or failures on more than one route."""
    return (any(R.is_refused(r) for r in records)
            or any(r.get("status_code") in (502, 503, 504) for r in records)
            or len({r.get("route") for r in records}) >= 2)


def _item_specific(run: Sequence[Record]) -> bool:
    """True when the answers' bodies name their own items (a server error about that item, not an outage)."""
    answered = [r for r in run if r.get("error_body") and r.get("item_id")]
    naming = sum(1 for r in answered if str(r["item_id"]).lower() in str(r["error_body"]).lower())
    return bool(answered) and naming * 2 >= len(answered)


def _end(record: Record) -> float:
    return float(record.get("start_offset_ms") or 0.0) + float(record.get("duration_ms") or 0.0)


def _merge(requests: Sequence[Record], runs: list[list[int]], tolerance: int,
           tolerated: set[int]) -> list[list[int]]:
    """Runs with the answers between them taken in where they may stand on the wrong side of an edge."""
    merged: list[list[int]] = []
    for run in runs:
        if merged:
            last = merged[-1]
            between = range(last[-1] + 1, run[0])
            in_flight = max(_end(requests[i]) for i in last)
            next_start = float(requests[run[0]].get("start_offset_ms") or 0.0)
            # Fewer than the failures around them: a long-hung failure must not swallow a busy stretch.
            few = len(between) <= tolerance or len(between) < len(last) + len(run)
            # Each answer overlapped a failure: it started while one was in flight, or was in flight
            # itself when the next failure started.
            overlapped = all(float(requests[i].get("start_offset_ms") or 0.0) <= in_flight
                             or next_start <= _end(requests[i]) for i in between)
            if few and overlapped:
                tolerated.update(between)
                merged[-1] = last + run
                continue
        merged.append(list(run))
    return merged


def find_windows(requests: Sequence[Record], tolerance: int = 1) -> list[Window]:
    """Failure windows in ``requests`` (sorted by start offset).

    A window is a run of failures that say the server side was not serving.
    Requests in flight together reach the server in about, not exactly, the
    order they started (a thread can be held back between stamping its start
    and sending): other answers that overlapped a failure of the run in time
    (sent while one was in flight, or in flight when the next one started)
    may have reached the server on the other side of its edge, and do not
    split it, as long as they are few (``tolerance``, the job's concurrency
    less one, or fewer than the failures around them).
    """
    runs: list[list[int]] = []  # indexes of consecutive unavailable attempts
    for index, record in enumerate(requests):
        if _unavailable(record):
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            else:
                runs.append([index])
    tolerated: set[int] = set()
    merged = _merge(requests, runs, tolerance, tolerated)
    while True:  # a merge makes a run longer, which may let it take in its neighbour: until nothing changes
        again = _merge(requests, merged, tolerance, tolerated)
        if len(again) == len(merged):
            break
        merged = again
    success_at = [i for i, r in enumerate(requests) if R.succeeded(r) and i not in tolerated]
    windows: list[Window] = []
    for run in merged:
        records = [requests[i] for i in run]
        keys = list(dict.fromkeys(_key(r) for r in records))
        signature, same = Counter(_signature(r) for r in records).most_common(1)[0]
        before_ok, after_ok = any(i < run[0] for i in success_at), any(i > run[-1] for i in success_at)
        # Nothing in the whole job worked, or refusals to the end (never about an item): a small run will do.
        refused_to_end = not after_ok and len(run) >= 2 and all(R.is_refused(r) for r in records)
        small = (len(run) < MIN_WINDOW_ATTEMPTS or len(keys) < MIN_WINDOW_ITEMS) and bool(success_at)
        if (small and not refused_to_end) or same < WINDOW_SAME_SHARE * len(run) or _item_specific(records):
            continue
        under_way = sum(1 for i in range(run[0], run[-1] + 1) if i in tolerated)
        window = Window(records, keys, signature, before_ok=before_ok, after_ok=after_ok, under_way=under_way)
        if window.kind == "down" and not _gone(records):
            continue  # only the job's last items failed: nothing says the server went away
        windows.append(window)
    return windows


class JobView:
    """A job's records, sorted and grouped for the rules (read-only)."""

    def __init__(self, requests: Iterable[Record], items: Iterable[Record], *,
                 life: Mapping[str, Any] | None = None, env: Mapping[str, Any] | None = None,
                 sessions_created: int | None = None, duration_ms: float | None = None) -> None:
        self.requests = sorted(requests, key=lambda r: r.get("start_offset_ms") or 0.0)
        self.items = list(items)
        self.life: Mapping[str, Any] = life or {}
        self.env: Mapping[str, Any] = env or {}
        self.sessions_created = sessions_created
        #: How long the job ran (None: not known; the last request's end stands in).
        self.duration_ms = duration_ms
        self.failed: list[Record] = []
        self.ok: list[Record] = []
        for record in self.requests:
            kind = R.outcome(record)
            if kind == "failed":
                self.failed.append(record)
            elif kind == "ok":
                self.ok.append(record)
        self.outcome = {str(i["item_id"]): i.get("outcome") for i in self.items if i.get("item_id") is not None}
        self.by_item: dict[str, list[Record]] = {}
        for record in self.requests:
            if record.get("item_id"):
                self.by_item.setdefault(str(record["item_id"]), []).append(record)
        self.windows = find_windows(self.requests, tolerance=max(1, self.peak_concurrency - 1))
        self._windowed = {id(r) for w in self.windows for r in w.attempts}
        self.ok_servers = Counter(str(r.get("server")).lower() for r in self.ok if r.get("server"))

    # -- membership ----------------------------------------------------------------
    def in_window(self, record: Record) -> bool:
        return id(record) in self._windowed

    def unexplained_by_windows(self, records: Iterable[Record]) -> list[Record]:
        return [r for r in records if id(r) not in self._windowed]

    def recovered(self, item_ids: Iterable[str]) -> list[str]:
        """Those of ``item_ids`` that succeeded in the end."""
        return [i for i in item_ids if self.outcome.get(i) == "succeeded"]

    @cached_property
    def peak_concurrency(self) -> int:
        """Most attempts in flight at once (from their start offsets and durations)."""
        edges: list[tuple[float, int]] = []
        for r in self.requests:
            start = float(r.get("start_offset_ms") or 0.0)
            edges.append((start, 1))
            edges.append((start + float(r.get("duration_ms") or 0.0), -1))
        edges.sort()  # at equal times the end (-1) sorts first: back-to-back is no overlap
        peak = current = 0
        for _, step in edges:
            current += step
            peak = max(peak, current)
        return peak

    @cached_property
    def item_counts(self) -> dict[str, int]:
        """Items declared, started, finished (succeeded / failed), unfinished and never started.

        ``declared`` is ``items_total`` as passed to ``job_span`` (without it:
        the items started); ``started`` is what the job span counted (without
        it: the items that finished). A job that started more than it
        declared counts what it started. Always:
        ``total == succeeded + failed + unfinished + not_started``.
        """
        finished = len(self.items)
        succeeded = sum(1 for i in self.items if i.get("outcome") == "succeeded")
        started = max(int(self.life.get("items_started") or 0), finished)
        declared = self.life.get("items_declared")
        total = max(int(declared) if declared is not None else started, started)
        return {"total": total, "started": started, "succeeded": succeeded, "failed": finished - succeeded,
                "unfinished": started - finished, "not_started": total - started}

    @cached_property
    def end_ms(self) -> float:
        return max((float(r.get("start_offset_ms") or 0.0) + float(r.get("duration_ms") or 0.0)
                    for r in self.requests), default=0.0)

    def ended_with_the_crash(self, item: Record) -> bool:
        """An item that failed in the moments the job's code raised and the job wound up
        (its client closed, its tasks abandoned): a consequence of the crash, not a cause."""
        if not self.life.get("error"):
            return False
        end = self.duration_ms if self.duration_ms is not None else self.end_ms
        finished = float(item.get("start_offset_ms") or 0.0) + float(item.get("duration_ms") or 0.0)
        return finished >= end - CRASH_TAIL_MS

    # -- who answered ----------------------------------------------------------------
    def who_answered(self, record: Record) -> str:
        """``jellyfin``, ``proxy`` (a reverse proxy's own page), or ``unknown``, from the answer's evidence."""
        if record.get("status_code") is None:
            return "unknown"
        server = str(record.get("server") or "").lower()
        content_type = str(record.get("content_type") or "").lower()
        body = str(record.get("error_body") or "")
        if any(name in server for name in JELLYFIN_NAMES) or "json" in content_type:
            return "jellyfin"
        html = "html" in content_type or bool(_TAG.match(body))
        named_proxy = any(name in server for name in PROXY_NAMES)
        if html or (named_proxy and server not in self.ok_servers):
            return "proxy"
        if server and self.ok_servers and server not in self.ok_servers:
            return "proxy"
        return "unknown"

    # -- evidence ----------------------------------------------------------------------
    def evidence(self, records: Sequence[Record], **extra: Any) -> dict[str, Any]:
        """The evidence keys every finding about attempts has, plus the rule's own ``extra``."""
        ids = list(dict.fromkeys(str(r["item_id"]) for r in records if r.get("item_id")))
        starts = [float(r.get("start_offset_ms") or 0.0) for r in records]
        ends = [s + float(r.get("duration_ms") or 0.0) for s, r in zip(starts, records)]
        found: dict[str, Any] = {
            "attempts": len(records),
            "items": len(ids),
            "example_item_ids": ids[:MAX_EXAMPLES],
            "window_ms": {"start": round(min(starts), 3), "end": round(max(ends), 3)} if records else None,
            "status_codes": dict(Counter(R.status_key(r) for r in records)),
            "servers": dict(Counter(str(r.get("server")) for r in records if r.get("server"))),
        }
        found.update(extra)
        return found

    def item_ids(self, records: Iterable[Record]) -> list[str]:
        return list(dict.fromkeys(str(r["item_id"]) for r in records if r.get("item_id")))
