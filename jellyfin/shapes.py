"""Failure shapes the Jellyfin simulator layers on any profile, and their ground truth.

Usage::

    from batch_debug.jellyfin.shapes import Shapes
    from batch_debug.jellyfin.simulator import JellyfinSimulator

    with JellyfinSimulator(profile="mixed", shapes=Shapes(proxy_outage=(10, 20), connection_close=True)) as sim:
        ...                                   # run a job against sim.url
        sim.truth()["proxy_502"]["answered"]  # what the server really did

Request numbers: every request the server reads gets the next number (0, 1,
2, ... in arrival order), except ``/System/Info/Public``, which client
libraries probe on their own. ``stats()["requests"][i]["seq"]`` carries it
(None for that probe). ``proxy_outage`` and ``die_after`` count these numbers.

Item selection: ``*_every=N`` picks the catalog items whose index satisfies
``index % N == N - 1`` (N=7: the 7th, 14th, ... item), on every attempt.

The shapes (all off by default; they compose with each other and with every
profile; stalls and cuts only hit answers that would have been 200):

- ``proxy_outage=(first, count)``: an nginx reverse proxy loses its upstream;
  requests ``first .. first+count-1`` get its 502 page (``Server: nginx``,
  HTML, the message after the first 2 KB) and never reach Jellyfin.
- ``sign_in_page=(first, count)``: something in front of Jellyfin (a captive
  portal, a proxy whose sign-in session ran out) answers requests
  ``first .. first+count-1`` with its own sign-in page: ``200 OK``, HTML,
  ``Server: portal/2.4``, the same page whatever was asked (a poster too);
  they never reach Jellyfin.
- ``revoke_key_after=N``: the key is deleted in the Jellyfin dashboard after
  N authenticated requests that carried it; later ones get 401 (every form).
- ``body_stall_every=N``: a disk or proxy buffer stall: image GETs send the
  headers (full Content-Length) and half the body, go silent for
  ``stall_seconds``, then close the connection.
- ``body_drop_every=N``: a proxy or worker crash mid-transfer: headers and half
  the body, then the connection closes at once. (An item picked by both
  ``body_stall_every`` and ``body_drop_every`` stalls.)
- ``headers_stall_every=N``: a lookup hung on a database lock: item lookups
  get nothing for ``stall_seconds``, then the connection closes.
- ``redirect_images``: an image cache in front: the image route answers 302 to
  ``/cdn/posters/{id}.png`` on the same server, which serves the poster.
- ``image_bytes=B``: posters of B bytes (a valid PNG padded with a private
  chunk), as a library with high-resolution artwork serves them.
- ``image_rate=R``: poster bodies trickle at about R bytes/s (a slow uplink).
- ``die_after=N``: the process is killed (OOM, container restart): the
  request numbered N-1 is the last one answered; the listening socket closes
  before its answer goes out (new connections are refused) and any later
  request on a kept-alive connection is read and dropped without an answer.
  A dead server stays dead until ``stop()``.
- ``legacy_auth_only``: a server older than 10.8 (or a proxy that strips
  ``Authorization``): only ``X-Emby-Token``, ``X-MediaBrowser-Token``,
  ``X-Emby-Authorization`` and ``api_key`` authenticate; ``/System/Info/Public``
  reports 10.7.7 unless the simulator is given ``version=``.
- ``behind_proxy="nginx/1.27.0"``: a reverse proxy in front of Jellyfin that
  answers for it: every answer carries that ``Server`` header (and ``Via:
  1.1 <name>``), as nginx and most proxies rewrite it;
- ``connection_close``: a proxy with keep-alive off: every answer carries
  ``Connection: close`` and the connection is closed after it.
- ``idle_drop_every=N``: a server (or proxy) that times idle connections out
  just as the client reuses them: every Nth request that arrives on a reused
  connection (its second or later request) is read and the connection closed
  without an answer.

Fault names (``stats()["requests"][i]["fault"]``; None for a normal answer):
``"proxy_502"``, ``"sign_in_page"``, ``"revoked_401"``, ``"body_stall"``, ``"body_drop"``,
``"headers_stall"``, ``"redirect"``, ``"idle_drop"``, ``"in_flight_drop"``,
``"connection_close"`` (a normal answer sent with ``Connection: close``), and
the profiles' injected ``"fault_429"``, ``"fault_500"``, ``"fault_503"``.
Requests that got no status line have ``"status": None``.

``truth()`` keys (only those of shapes that are on; counts restart with
``reset_stats()``, which also restarts request numbers and key uses):

- ``"proxy_502"``: ``{"window": [first, last], "answered": n,
  "first_request": seq or None, "last_request": seq or None, "item_ids": [...]}``
- ``"sign_in_page"``: the same keys as ``"proxy_502"``
- ``"revoked"``: ``{"after": N, "accepted_before": a, "rejected_after": r}``
- ``"body_stall"`` and ``"headers_stall"``: ``{"every": N, "seconds": s,
  "count": n, "item_ids": [...]}``; ``"body_drop"``: ``{"every": N,
  "count": n, "item_ids": [...]}``
- ``"redirects"``: number of 302 answers
- ``"image_bytes"``: B; ``"image_rate"``: R
- ``"died"``: ``{"after": N, "dead": bool, "in_flight_dropped": n}``
- ``"idle_drop"``: ``{"every": N, "count": n}``
- ``"connection_close"``: number of answers sent with ``Connection: close``
- ``"legacy_auth_only"``: true
- ``"version"``: the reported version, when ``version=`` was given or
  ``legacy_auth_only`` is on

``item_ids`` lists distinct ids in order of first occurrence (32 lowercase
hex; the raw path segment when it is not a GUID), ``count`` counts requests.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, fields

logger = logging.getLogger(__name__)

PROXY_502 = "proxy_502"
SIGN_IN_PAGE = "sign_in_page"
REVOKED_401 = "revoked_401"
BODY_STALL = "body_stall"
BODY_DROP = "body_drop"
HEADERS_STALL = "headers_stall"
REDIRECT = "redirect"
IDLE_DROP = "idle_drop"
IN_FLIGHT_DROP = "in_flight_drop"
CONNECTION_CLOSE = "connection_close"
FAULT_NAMES = (PROXY_502, SIGN_IN_PAGE, REVOKED_401, BODY_STALL, BODY_DROP, HEADERS_STALL, REDIRECT, IDLE_DROP,
               IN_FLIGHT_DROP, CONNECTION_CLOSE, "fault_429", "fault_500", "fault_503")
# Faults whose truth entry lists the items they hit.
ITEM_FAULTS = (PROXY_502, SIGN_IN_PAGE, BODY_STALL, BODY_DROP, HEADERS_STALL)
MIN_IMAGE_BYTES = 1024  # room for a valid PNG around the padding


@dataclass(frozen=True)
class Shapes:
    """Failure shapes layered on any profile (all off by default)."""

    proxy_outage: tuple[int, int] | None = None
    sign_in_page: tuple[int, int] | None = None
    revoke_key_after: int | None = None
    body_stall_every: int | None = None
    body_drop_every: int | None = None
    headers_stall_every: int | None = None
    stall_seconds: float = 3.0
    redirect_images: bool = False
    image_bytes: int | None = None
    image_rate: int | None = None
    die_after: int | None = None
    legacy_auth_only: bool = False
    connection_close: bool = False
    idle_drop_every: int | None = None
    behind_proxy: str | None = None

    def __post_init__(self) -> None:
        minimum = {"revoke_key_after": 0, "body_stall_every": 1, "body_drop_every": 1,
                   "headers_stall_every": 1, "image_bytes": MIN_IMAGE_BYTES, "image_rate": 1,
                   "die_after": 1, "idle_drop_every": 1}
        for name, low in minimum.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                raise ValueError(f"Shapes.{name} must be None or a whole number of at least {low}, not {value!r}.")
        for name in ("proxy_outage", "sign_in_page"):
            window = getattr(self, name)
            if window is not None and not (len(window) == 2 and all(isinstance(v, int) for v in window)
                                           and window[0] >= 0 and window[1] >= 1):
                raise ValueError(f"Shapes.{name} must be (first, count) with first >= 0 and count >= 1, "
                                 f"not {window!r}.")
        proxy = self.behind_proxy
        if proxy is not None and not (isinstance(proxy, str) and 0 < len(proxy) <= 64 and proxy.isprintable()
                                      and proxy.isascii()):
            raise ValueError(f"Shapes.behind_proxy must be a Server header value (1 to 64 printable ASCII "
                             f"characters) or None, not {proxy!r:.80}.")
        if not self.stall_seconds > 0:
            raise ValueError(f"Shapes.stall_seconds must be positive, not {self.stall_seconds!r}.")

    def active(self) -> list[str]:
        """Names of the fields that differ from the default (for logs)."""
        return [f.name for f in fields(self) if getattr(self, f.name) != f.default]


def selects(every: int | None, index: int) -> bool:
    """Whether ``*_every=every`` picks the catalog item at ``index``."""
    return every is not None and index % every == every - 1


@dataclass(frozen=True)
class Ticket:
    """What the front of the server decided for one request, before Jellyfin sees it."""

    seq: int | None
    fault: str | None = None  # IN_FLIGHT_DROP, IDLE_DROP, PROXY_502 or SIGN_IN_PAGE
    kills: bool = False  # this request is the last one answered: the server dies before answering


class ShapeState:
    """The per-request counters of the shapes (thread-safe).

    ``arrive`` is called once per request in arrival order, ``use_key`` once per
    request that carried the valid key. ``reset`` restarts numbering and key
    uses; death is permanent.
    """

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes
        self.dead = False
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._next_seq = 0
            self._reused = 0
            self.key_uses = 0

    def arrive(self, counted: bool, reused: bool) -> Ticket:
        """Number the request (if ``counted``) and decide the faults the front applies."""
        shapes = self.shapes
        with self._lock:
            seq = None
            if counted:
                seq, self._next_seq = self._next_seq, self._next_seq + 1
            if self.dead:
                return Ticket(seq, IN_FLIGHT_DROP)
            kills = seq is not None and shapes.die_after is not None and seq == shapes.die_after - 1
            if kills:
                self.dead = True  # later arrivals, even ones already on their way in, are dropped
            if reused and shapes.idle_drop_every is not None:
                self._reused += 1
                if self._reused % shapes.idle_drop_every == 0:
                    return Ticket(seq, IDLE_DROP, kills)
            for window, fault in ((shapes.proxy_outage, PROXY_502), (shapes.sign_in_page, SIGN_IN_PAGE)):
                if seq is not None and window is not None and window[0] <= seq < window[0] + window[1]:
                    return Ticket(seq, fault, kills)
            return Ticket(seq, None, kills)

    def use_key(self) -> bool:
        """Count one use of the valid key; False once it is revoked."""
        with self._lock:
            self.key_uses += 1
            return self.shapes.revoke_key_after is None or self.key_uses <= self.shapes.revoke_key_after
