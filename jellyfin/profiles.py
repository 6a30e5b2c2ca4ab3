"""Fault profiles of the Jellyfin simulator: what each injects, and the shape presets.

Contract (used by ``simulator.py``; others import ``PROFILES`` from the simulator):

- ``PROFILES``: the valid profile names (``BASE_PROFILES``, then the names of
  ``SHAPE_PROFILES``).
- ``validate_profile(name)`` returns the name or raises ``ValueError`` with a
  sentence listing the valid names.
- ``SHAPE_PROFILES``: profile name -> the ``Shapes`` preset it applies on top
  of ``healthy``; ``base_profile(name)`` is the profile whose faults apply and
  ``profile_shapes(name)`` the preset (``Shapes()`` for a base profile).
- ``FaultPolicy(profile, seed, rate_limit_per_second, rate_limit_burst, latency_scale)``:
  ``latency_scale`` multiplies every injected delay (0: the same faults, no
  waiting; how tests keep the flaky and mixed profiles fast); ``admit()`` is asked once per request before routing (the time-based token
  bucket of ``rate-limited``); ``decide(kind, method, item_id, index)`` is
  asked once per request for a *known* item after auth and id validation;
  ``rejects_all_keys`` says whether every API key is refused (``bad-auth``);
  ``is_persistently_broken(index)`` names the items that always answer 500.
- ``fault_reply(fault, item_id)``: the 429/500/503 answer for a ``Fault``,
  with fault name ``fault_429``/``fault_500``/``fault_503``. ``Reply`` and
  the other answer builders live in ``replies.py``.

What each base profile does (known items only, except the token bucket):

- ``healthy``: nothing.
- ``flaky``: image GETs: 10% of items answer 503 on attempt 1, another 5% on
  attempts 1 and 2 (15% in all); attempt 3 always succeeds. Any item request
  (image GET/HEAD, item lookups) is slow (150-400 ms) with 10% probability.
- ``rate-limited``: token bucket over all requests and clients (default 20/s,
  burst 10); over the limit -> 429 with ``Retry-After: 1``.
- ``bad-auth``: every key is rejected (auth routes 401; images still work).
- ``mixed``: item requests of every kind and method: 8% answer 503 on attempt
  1, another 5% answer 429 (``Retry-After: 1``) on attempt 1; 5% of attempts
  are slow (100-300 ms); every 25th known item (index 24, 49, ...) answers 500
  on every attempt.

Shape profiles (``healthy`` plus one preset of ``shapes.Shapes``; an explicit
``shapes=`` given to the simulator replaces the preset as a whole):

- ``proxy-outage``: nginx in front loses its Jellyfin upstream: requests 10..29
  get nginx's HTML 502 page. ``Shapes(proxy_outage=(10, 20))``
- ``sign-in-page``: a captive portal (or a proxy whose sign-in session ran
  out) answers requests 10..29 with its sign-in page and ``200 OK``, posters
  included. ``Shapes(sign_in_page=(10, 20))``
- ``key-revoked``: an admin deletes the API key in the Jellyfin dashboard
  mid-job: 401 after 12 authenticated requests. ``Shapes(revoke_key_after=12)``
- ``body-stall``: a disk or proxy buffer stall: every 7th item's poster stops
  half-way for 3 s, then the connection closes. ``Shapes(body_stall_every=7)``
- ``body-drop``: a proxy or worker crash mid-transfer: every 7th item's poster
  is cut off half-way. ``Shapes(body_drop_every=7)``
- ``headers-stall``: a lookup stuck on a database lock: every 9th item's lookup
  gets no answer for 3 s. ``Shapes(headers_stall_every=9)``
- ``redirects``: an image cache that 302s posters to ``/cdn/posters/{id}.png``.
  ``Shapes(redirect_images=True)``
- ``large-images``: high-resolution artwork: 5 MiB posters.
  ``Shapes(image_bytes=5 << 20)``
- ``slow-images``: 5 MiB posters over a 1 MiB/s uplink.
  ``Shapes(image_bytes=5 << 20, image_rate=1 << 20)``
- ``dies-mid-job``: the server is killed (OOM, restart) after 30 requests.
  ``Shapes(die_after=30)``
- ``legacy-auth``: a server older than 10.8 (reports 10.7.7) that ignores the
  ``Authorization`` header and ``ApiKey``. ``Shapes(legacy_auth_only=True)``
- ``connection-close``: a proxy with keep-alive off. ``Shapes(connection_close=True)``
- ``idle-drops``: idle connections timed out just as the client reuses them:
  every 5th request on a reused connection is dropped. ``Shapes(idle_drop_every=5)``

Determinism: faults come from a hash of (seed, item id, route kind, method,
attempt number of that same key), never from a global request sequence, so
concurrent clients see the same faults whatever order their threads run in.
Attempts are counted per (route kind, method, item) among requests that reach
``decide`` (answers 401/400/404 and rate-limit 429s do not use one up). Shapes
that count requests (``proxy_outage``, ``sign_in_page``, ``die_after``, ``idle_drop_every``,
``revoke_key_after``) follow arrival order, so they are deterministic for a
client that sends one request at a time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .replies import Reply, problem_reply, text_reply
from .shapes import Shapes

logger = logging.getLogger(__name__)

BASE_PROFILES: tuple[str, ...] = ("healthy", "flaky", "rate-limited", "bad-auth", "mixed")
_MIB = 1 << 20
SHAPE_PROFILES: Mapping[str, Shapes] = MappingProxyType({
    "proxy-outage": Shapes(proxy_outage=(10, 20)),
    "sign-in-page": Shapes(sign_in_page=(10, 20)),
    "key-revoked": Shapes(revoke_key_after=12),
    "body-stall": Shapes(body_stall_every=7, stall_seconds=3.0),
    "body-drop": Shapes(body_drop_every=7),
    "headers-stall": Shapes(headers_stall_every=9, stall_seconds=3.0),
    "redirects": Shapes(redirect_images=True),
    "large-images": Shapes(image_bytes=5 * _MIB),
    "slow-images": Shapes(image_bytes=5 * _MIB, image_rate=_MIB),
    "dies-mid-job": Shapes(die_after=30),
    "legacy-auth": Shapes(legacy_auth_only=True),
    "connection-close": Shapes(connection_close=True),
    "idle-drops": Shapes(idle_drop_every=5),
})
PROFILES: tuple[str, ...] = BASE_PROFILES + tuple(SHAPE_PROFILES)

# Every Nth known item (1-based) is persistently broken in the mixed profile.
PERSISTENT_ERROR_EVERY = 25


@dataclass(frozen=True)
class Fault:
    """What to do to one response: ``status`` None means answer normally."""

    status: int | None = None
    delay_s: float = 0.0
    retry_after: int | None = None


NO_FAULT = Fault()


def validate_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise ``ValueError``."""
    if name not in PROFILES:
        raise ValueError(
            f"Unknown Jellyfin simulator profile {name!r}; valid profiles are: {', '.join(PROFILES)}."
        )
    return name


def base_profile(name: str) -> str:
    """The base profile whose faults apply under ``name`` (shape profiles sit on ``healthy``)."""
    return "healthy" if validate_profile(name) in SHAPE_PROFILES else name


def profile_shapes(name: str) -> Shapes:
    """The shapes preset of profile ``name`` (all off for a base profile)."""
    return SHAPE_PROFILES.get(validate_profile(name), Shapes())


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across runs and processes)."""
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class TokenBucket:
    """Thread-safe token bucket: ``rate`` tokens per second, at most ``burst`` stored."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("The rate limit must be positive and the burst at least 1.")
        self._rate = float(rate)
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class FaultPolicy:
    """Decides, per request, which fault (if any) the simulator injects."""

    def __init__(self, profile: str, seed: int, rate_limit_per_second: float = 20.0,
                 rate_limit_burst: int = 10, latency_scale: float = 1.0) -> None:
        if not latency_scale >= 0:
            raise ValueError(f"latency_scale must be 0 or more, not {latency_scale!r}.")
        self.profile = base_profile(profile)
        self.seed = seed
        self.latency_scale = latency_scale
        self._bucket = TokenBucket(rate_limit_per_second, rate_limit_burst) if profile == "rate-limited" else None
        # Attempt counters per (kind, method, item id); only known items get a
        # key, so the map is bounded by item_count * kinds * methods.
        self._attempts: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    @property
    def rejects_all_keys(self) -> bool:
        return self.profile == "bad-auth"

    def is_persistently_broken(self, index: int) -> bool:
        return self.profile == "mixed" and (index + 1) % PERSISTENT_ERROR_EVERY == 0

    def admit(self) -> Fault:
        """Rate limiting happens before routing (as a proxy or middleware would)."""
        if self._bucket is not None and not self._bucket.take():
            return Fault(status=429, retry_after=1)
        return NO_FAULT

    def _next_attempt(self, kind: str, method: str, item_id: str) -> int:
        with self._lock:
            attempt = self._attempts.get((kind, method, item_id), 0) + 1
            self._attempts[(kind, method, item_id)] = attempt
            return attempt

    def decide(self, kind: str, method: str, item_id: str, index: int) -> Fault:
        """The fault for this request to known item ``item_id`` (``index`` in the item list)."""
        if self.profile not in ("flaky", "mixed"):
            return NO_FAULT
        attempt = self._next_attempt(kind, method, item_id)
        # Per-key draw (no attempt): decides *whether* this key fails early.
        # Per-attempt draw: decides slowness independently on every attempt.
        key_draw = _unit(self.seed, "fail", item_id, kind, method)
        slow_draw = _unit(self.seed, "slow", item_id, kind, method, attempt)
        span_draw = _unit(self.seed, "slow-ms", item_id, kind, method, attempt)
        if self.profile == "flaky":
            delay = (0.150 + 0.250 * span_draw) * self.latency_scale if slow_draw < 0.10 else 0.0
            if kind == "image" and method == "GET":
                failures = 2 if key_draw < 0.05 else 1 if key_draw < 0.15 else 0
                if attempt <= failures:
                    return Fault(status=503, delay_s=delay)
            return Fault(delay_s=delay)
        # mixed
        delay = (0.100 + 0.200 * span_draw) * self.latency_scale if slow_draw < 0.05 else 0.0
        if self.is_persistently_broken(index):
            return Fault(status=500, delay_s=delay)
        if attempt == 1 and key_draw < 0.08:
            return Fault(status=503, delay_s=delay)
        if attempt == 1 and key_draw < 0.13:
            return Fault(status=429, delay_s=delay, retry_after=1)
        return Fault(delay_s=delay)


def fault_reply(fault: Fault, item_id: str) -> Reply:
    """The answer for an injected fault (429 and 503 look like a proxy's, 500 like Jellyfin's)."""
    if fault.status == 429:
        reply = problem_reply(429, "Too Many Requests", "rfc6585#section-4",
                              detail="Request rate limit exceeded; retry after 1 second.")
        reply.headers["Retry-After"] = str(fault.retry_after or 1)
    elif fault.status == 500:
        reply = problem_reply(500, "An error occurred while processing your request.", "rfc9110#section-15.6.1",
                              detail="System.IO.IOException: Input/output error reading "
                                     f"'/config/metadata/library/{item_id[:2]}/{item_id}/poster.jpg'")
    else:
        reply = text_reply(fault.status or 503, "Service Unavailable")
    reply.delay_s = fault.delay_s
    reply.fault = f"fault_{reply.status}"
    return reply
