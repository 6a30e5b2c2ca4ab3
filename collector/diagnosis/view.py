"""What the rules read: a job's records sorted and grouped once, and the evidence they share.

A :class:`JobView` is built once per diagnosis from the request records,
the item records, the job's life and the environment; rules only read it.
It finds the *failure windows*: stretches of time in which every attempt,
whatever its item, failed the same way (the server or the proxy in front of
it was unavailable), so the rules can tell an outage from bad items.
"""

from __future__ import annotations

import operator
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property, partial
from heapq import heappop, heappush
from itertools import islice
from typing import Any

from .. import attempts as R
from ..net_errors import TLS, cause_of
from ..time_columns import floats_in_place
from . import quotes
from .text import MAX_EXAMPLES
from .windows import find_windows

Record = Mapping[str, Any]

#: Items that fail this close to the end of a job that raised failed because it was winding up.
CRASH_TAIL_MS = 100.0
#: Server header names of reverse proxies, load balancers and CDNs (lower-case substrings).
PROXY_NAMES = ("nginx", "openresty", "apache", "caddy", "traefik", "envoy", "haproxy", "cloudflare", "squid",
               "varnish", "lighttpd", "microsoft-iis", "istio", "akamai", "cloudfront", "tengine", "pingora")
#: Server header names Jellyfin answers with (Kestrel is its ASP.NET Core server).
JELLYFIN_NAMES = ("kestrel", "jellyfin", "emby")
_TAG = re.compile(r"^\s*<")
#: Network causes a rule of their own names (a refusal is left to the availability rules).
NAMED_CAUSES = TLS | {"dns", "unreachable"}


def is_image_route(route: Any) -> bool:
    """Whether a record's ``route`` is one of Jellyfin's image routes."""
    return isinstance(route, str) and "/Images/" in route
_is_none = partial(operator.is_, None)


def _floats(values: Sequence[Any]) -> Sequence[float]:
    """``float(v or 0.0)`` of each value (a missing time reads 0), at C speed when all are numbers; a
    column of floats (the spool's columns give one where every request has the time:
    ``time_columns.floats_in_place``) comes back as it is."""
    if floats_in_place(values):
        return values
    if set(map(type, values)) <= {int, float}:
        return array("d", map(float, values))
    return array("d", [float(v or 0.0) for v in values])


class JobView:
    """A job's records, sorted and grouped for the rules (read-only)."""

    def __init__(self, requests: Iterable[Record], items: Iterable[Record], *,
                 life: Mapping[str, Any] | None = None, env: Mapping[str, Any] | None = None,
                 sessions_created: int | None = None, duration_ms: float | None = None) -> None:
        # Sorted by start (stable: records that start together keep their order).
        self.requests = R.by_start(requests)
        # The head's items read as a sequence (``item_columns.HeadItems``: each made when read), not copied.
        self.items: Sequence[Record] = items if isinstance(items, Sequence) else list(items)
        self.life: Mapping[str, Any] = life or {}
        self.env: Mapping[str, Any] = env or {}
        self.sessions_created = sessions_created
        #: How long the job ran (None: not known; the last request's end stands in).
        self.duration_ms = duration_ms
        outcomes = R.outcomes(self.requests)
        # By index: a record read by index from the spool's columns stays the same object (``in_window``).
        self.failed: list[Record] = R.pick(self.requests, [i for i, kind in enumerate(outcomes) if kind == "failed"])
        #: Most of a job's requests: selected, not copied (the spool's columns build a record when it is read).
        self.ok: Sequence[Record] = self.requests if outcomes.count("ok") == len(outcomes) else \
            R.select(self.requests, [i for i, kind in enumerate(outcomes) if kind == "ok"])
        self.windows = find_windows(self.requests, tolerance=max(1, self.peak_concurrency - 1), outcomes=outcomes)
        self._windowed = {id(r) for w in self.windows for r in w.attempts}
        self.ok_servers = Counter(str(server).lower() for server in R.column(self.ok, "server") if server)
        self._judged: dict[tuple[Any, ...], str] = {}  # who answered, by the answer's evidence
        self._causes: dict[tuple[Any, ...], str | None] = {}  # why no connection, by the error

    @cached_property
    def outcome(self) -> dict[str, Any]:
        """Each item's outcome by its id (built when a rule asks, as :attr:`last_attempt`)."""
        ids, outcomes = R.column(self.items, "item_id"), R.column(self.items, "outcome")
        return {str(i): outcome for i, outcome in zip(ids, outcomes) if i is not None}

    @cached_property
    def failed_items(self) -> list[Record]:
        """The items that did not succeed, in start order (read by their outcome column: most items of a
        big job succeeded, and each is made when read)."""
        outcomes = R.column(self.items, "outcome")
        failed = [i for i, outcome in enumerate(outcomes) if outcome != "succeeded"]
        at = getattr(self.items, "at", None)  # the head's items make them in bulk (``item_columns.HeadItems``)
        return at(failed) if at is not None else [self.items[i] for i in failed]

    @cached_property
    def odd_bodies(self) -> dict[str, list[int]]:
        """The 2xx answers whose body was not what their route serves (``body_kind``: a page anywhere;
        a document, text or nothing on an image route), as indexes into :attr:`requests` by kind (read
        by column: most jobs have none)."""
        found: dict[str, list[int]] = {}
        routes = None
        for i, kind in enumerate(R.column(self.requests, "body_kind")):
            if kind is None:
                continue
            if routes is None:
                routes = R.column(self.requests, "route")
            if kind == "html" or is_image_route(routes[i]):
                found.setdefault(str(kind), []).append(i)
        return found

    @cached_property
    def odd_body_items(self) -> set[str]:
        """The items that got one of :attr:`odd_bodies` (an item that failed for it failed on the answer)."""
        ids = R.column(self.requests, "item_id")
        return {str(ids[i]) for rows in self.odd_bodies.values() for i in rows if ids[i]}

    @cached_property
    def last_attempt(self) -> dict[str, int]:
        """Each item's last attempt (by start), as its index in :attr:`requests`; an item with none is not
        in it. By column, built when a rule asks: a record per request of a big job is never built here."""
        return {str(item_id): i for i, item_id in enumerate(R.column(self.requests, "item_id")) if item_id}

    def attempts_of(self, item_ids: Iterable[str]) -> list[Record]:
        """The attempts of ``item_ids``: item by item, each item's in start order."""
        wanted = list(dict.fromkeys(item_ids))
        rows: dict[str, list[int]] = {item_id: [] for item_id in wanted}
        for i, item_id in enumerate(R.column(self.requests, "item_id")):
            if item_id:
                found = rows.get(str(item_id))
                if found is not None:
                    found.append(i)
        return R.pick(self.requests, [i for item_id in wanted for i in rows[item_id]])

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
        starts = _floats(R.column(self.requests, "start_offset_ms"))
        spans: Iterable[tuple[float, float]] = zip(starts, map(operator.add, starts, _floats(R.column(self.requests,
                                                                                                       "duration_ms"))))
        if not all(map(operator.le, starts, islice(starts, 1, None))):
            spans = sorted(spans, key=operator.itemgetter(0))  # in order already, unless a start is not a number
        # A sweep in start order, keeping the ends of the attempts in flight in a heap: memory for the
        # concurrency, not for the job (a sorted list of a million ends was 40 MB). An end at the same
        # moment as a start goes first: back-to-back is no overlap, and an attempt of no time never overlaps.
        in_flight: list[float] = []
        peak = 0
        for start, end in spans:
            while in_flight and in_flight[0] <= start:
                heappop(in_flight)
            if end > start:
                heappush(in_flight, end)
                if len(in_flight) > peak:
                    peak = len(in_flight)
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
        succeeded = R.column(self.items, "outcome").count("succeeded")
        started = max(int(self.life.get("items_started") or 0), finished)
        declared = self.life.get("items_declared")
        total = max(int(declared) if declared is not None else started, started)
        return {"total": total, "started": started, "succeeded": succeeded, "failed": finished - succeeded,
                "unfinished": started - finished, "not_started": total - started}

    @cached_property
    def end_ms(self) -> float:
        starts = R.column(self.requests, "start_offset_ms")
        return max((float(s or 0.0) + float(d or 0.0) for s, d in zip(starts, R.column(self.requests, "duration_ms"))),
                   default=0.0)

    def ended_with_the_crash(self, item: Record) -> bool:
        """An item that failed in the moments the job's code raised and the job wound up
        (its client closed, its tasks abandoned): a consequence of the crash, not a cause."""
        if not self.life.get("error"):
            return False
        end = self.duration_ms if self.duration_ms is not None else self.end_ms
        finished = float(item.get("start_offset_ms") or 0.0) + float(item.get("duration_ms") or 0.0)
        return finished >= end - CRASH_TAIL_MS

    # -- why no connection ---------------------------------------------------------------
    def network_cause(self, record: Record) -> str | None:
        """What an attempt without an answer says stopped it (``net_errors.cause_of``: a TLS handshake, a
        name not resolved, a refusal, no route), or None; judged once per distinct error."""
        if record.get("status_code") is not None:
            return None
        key = (record.get("error_type"), record.get("error_message"))
        try:
            return self._causes[key]
        except KeyError:
            found = self._causes[key] = cause_of(*key)
            return found
        except TypeError:
            return cause_of(*key)

    def explained_elsewhere(self, record: Record) -> bool:
        """An attempt whose error names its cause beyond "could not connect" (TLS, DNS, no route):
        ``rules_network`` speaks for it."""
        return self.network_cause(record) in NAMED_CAUSES

    # -- who answered ----------------------------------------------------------------
    def who_answered(self, record: Record) -> str:
        """``jellyfin``, ``proxy`` (a reverse proxy's own page), or ``unknown``, from the answer's evidence."""
        return self._who(record.get("status_code") is None, record.get("server"), record.get("content_type"),
                         record.get("error_body"))

    def answered_by_each(self, records: Sequence[Record]) -> list[str]:
        """:meth:`who_answered` of each record, read by column."""
        return list(map(self._who, map(_is_none, R.column(records, "status_code")), R.column(records, "server"),
                        R.column(records, "content_type"), R.column(records, "error_body")))

    def _who(self, no_answer: bool, server: Any, content_type: Any, body: Any) -> str:
        # Judged once per distinct answer: an outage of 100,000 attempts has a handful.
        key = (no_answer, server, content_type, body)
        try:
            return self._judged[key]
        except KeyError:
            found = self._judged[key] = self._judge(*key)
            return found
        except TypeError:  # a value that cannot be a key (not from a record the spool kept)
            return self._judge(*key)

    def _judge(self, no_answer: bool, server: Any, content_type: Any, body: Any) -> str:
        if no_answer:
            return "unknown"
        server = str(server or "").lower()
        content_type = str(content_type or "").lower()
        body = str(body or "")
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
    def said(self, records: Iterable[Record]) -> list[quotes.Said]:
        """What the failed answers among ``records`` said (their most frequent messages, and who said them)."""
        return quotes.said(records, self.who_answered)

    def evidence(self, records: Sequence[Record], **extra: Any) -> dict[str, Any]:
        """The evidence keys every finding about attempts has, plus the rule's own ``extra``.

        When failed answers among ``records`` carried a body, ``server_said``
        (their most frequent messages, at most 3) and ``server_said_attempts``
        (how many attempts gave each) come too.
        """
        # By column: an outage's findings rest on every one of its attempts.
        ids = self.item_ids(records)
        starts = [float(s or 0.0) for s in R.column(records, "start_offset_ms")]
        ends = [s + float(d or 0.0) for s, d in zip(starts, R.column(records, "duration_ms"))]
        found: dict[str, Any] = {
            "attempts": len(records),
            "items": len(ids),
            "example_item_ids": ids[:MAX_EXAMPLES],
            "window_ms": {"start": round(min(starts), 3), "end": round(max(ends), 3)} if records else None,
            "status_codes": dict(Counter(R.status_keys(records))),
            "servers": dict(Counter(str(s) for s in R.column(records, "server") if s)),
            **quotes.evidence(self.said(records)),
        }
        found.update(extra)
        return found

    def item_ids(self, records: Iterable[Record]) -> list[str]:
        """The distinct item ids of ``records``, in first-seen order."""
        records = records if isinstance(records, Sequence) else list(records)
        return list(dict.fromkeys(str(i) for i in R.column(records, "item_id") if i))
