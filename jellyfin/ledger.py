"""What the Jellyfin simulator did: request counts for ``stats()`` and facts for ``truth()``.

Contract (used by ``simulator.py``):

- ``Ledger.record(method, path, kind, reply)`` is called by the HTTP handler
  thread once per request read, before any byte of the answer goes out (so a
  client that checks right after its call sees its request), including
  requests that get no answer (``reply.status`` None).
- ``Ledger.stats()``: ``total``, ``by_status`` (``"none"`` for no status
  line), ``by_method``, ``by_route`` (``ROUTE_KINDS``) and ``requests`` (the
  newest ``RECENT_REQUESTS`` as method/path/status/fault/seq; paths carry no
  query string, so no key).
- ``Ledger.truth(shapes, key_uses, dead, version)``: the ``truth()`` dict whose
  keys ``shapes.py`` documents.
- ``Ledger.reset()`` zeroes both.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .replies import Reply
from .shapes import (BODY_DROP, BODY_STALL, HEADERS_STALL, IN_FLIGHT_DROP, ITEM_FAULTS, PROXY_502, REDIRECT,
                     REVOKED_401, SIGN_IN_PAGE, IDLE_DROP, Shapes)

logger = logging.getLogger(__name__)

RECENT_REQUESTS = 10_000  # stats()["requests"] keeps the newest this many; "total" counts all
ROUTE_KINDS = ("image", "item", "user_item", "user_items", "system_info", "other")


@dataclass
class FaultFacts:
    """Running facts about one fault name."""

    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    item_ids: list[str] = field(default_factory=list)

    def add(self, seq: int | None, item_id: str | None, keep_items: bool) -> None:
        self.count += 1
        if seq is not None:
            self.first_seq = seq if self.first_seq is None else min(self.first_seq, seq)
            self.last_seq = seq if self.last_seq is None else max(self.last_seq, seq)
        # Only faults confined to known items or to a bounded window keep ids, so the list stays bounded.
        if keep_items and item_id is not None and item_id not in self.item_ids:
            self.item_ids.append(item_id)


class Ledger:
    """Thread-safe counts of every request the simulator read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_status: Counter[str] = Counter()
            self._by_method: Counter[str] = Counter()
            self._by_route: Counter[str] = Counter({k: 0 for k in ROUTE_KINDS})
            self._requests: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)
            self._faults: dict[str, FaultFacts] = {}
            self._closed = 0

    def record(self, method: str, path: str, kind: str, reply: Reply) -> None:
        kind = kind if kind in ROUTE_KINDS else "other"
        with self._lock:
            self._total += 1
            self._by_status["none" if reply.status is None else str(reply.status)] += 1
            self._by_method[method] += 1
            self._by_route[kind] += 1
            self._requests.append({"method": method, "path": path, "status": reply.status, "fault": reply.fault,
                                   "seq": reply.seq})
            if reply.fault is not None:
                facts = self._faults.setdefault(reply.fault, FaultFacts())
                facts.add(reply.seq, reply.item_id, reply.fault in ITEM_FAULTS)
            if reply.close:
                self._closed += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "by_status": dict(self._by_status), "by_method": dict(self._by_method),
                    "by_route": dict(self._by_route), "requests": [dict(r) for r in self._requests]}

    def _facts(self, fault: str) -> FaultFacts:
        return self._faults.get(fault) or FaultFacts()

    def truth(self, shapes: Shapes, key_uses: int, dead: bool, version: str | None) -> dict[str, Any]:
        """The ground truth of every shape that is on (keys documented in ``shapes.py``)."""
        truth: dict[str, Any] = {}
        with self._lock:
            for window, fault in ((shapes.proxy_outage, PROXY_502), (shapes.sign_in_page, SIGN_IN_PAGE)):
                if window is not None:
                    first, count = window
                    facts = self._facts(fault)
                    truth[fault] = {"window": [first, first + count - 1], "answered": facts.count,
                                    "first_request": facts.first_seq, "last_request": facts.last_seq,
                                    "item_ids": list(facts.item_ids)}
            if shapes.revoke_key_after is not None:
                after = shapes.revoke_key_after
                truth["revoked"] = {"after": after, "accepted_before": min(key_uses, after),
                                    "rejected_after": self._facts(REVOKED_401).count}
            for name, every, seconds in ((BODY_STALL, shapes.body_stall_every, shapes.stall_seconds),
                                         (BODY_DROP, shapes.body_drop_every, None),
                                         (HEADERS_STALL, shapes.headers_stall_every, shapes.stall_seconds)):
                if every is not None:
                    facts = self._facts(name)
                    entry: dict[str, Any] = {"every": every, "count": facts.count, "item_ids": list(facts.item_ids)}
                    if seconds is not None:
                        entry["seconds"] = seconds
                    truth[name] = entry
            if shapes.redirect_images:
                truth["redirects"] = self._facts(REDIRECT).count
            if shapes.image_bytes is not None:
                truth["image_bytes"] = shapes.image_bytes
            if shapes.image_rate is not None:
                truth["image_rate"] = shapes.image_rate
            if shapes.die_after is not None:
                truth["died"] = {"after": shapes.die_after, "dead": dead,
                                 "in_flight_dropped": self._facts(IN_FLIGHT_DROP).count}
            if shapes.idle_drop_every is not None:
                truth["idle_drop"] = {"every": shapes.idle_drop_every, "count": self._facts(IDLE_DROP).count}
            if shapes.connection_close:
                truth["connection_close"] = self._closed
        if shapes.legacy_auth_only:
            truth["legacy_auth_only"] = True
        if version is not None:
            truth["version"] = version
        return truth
