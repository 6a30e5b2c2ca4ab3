"""Fault profiles of the Jellyfin simulator and the error answers it gives.

Contract (used by ``simulator.py``; others import ``PROFILES`` from the simulator):

- ``PROFILES``: the valid profile names.
- ``validate_profile(name)`` returns the name or raises ``ValueError`` with a
  sentence listing the valid names.
- ``FaultPolicy(profile, seed, rate_limit_per_second, rate_limit_burst)``:
  ``admit()`` is asked once per request before routing (the time-based token
  bucket of ``rate-limited``); ``decide(kind, method, item_id, index)`` is
  asked once per request for a *known* item after auth and id validation;
  ``rejects_all_keys`` says whether every API key is refused (``bad-auth``);
  ``is_persistently_broken(index)`` names the items that always answer 500.
- ``Reply`` (status, body, content type, headers, delay) and the builders of
  the bodies Jellyfin (ASP.NET Core) sends: ``json_reply``, ``problem_reply``
  (ProblemDetails), ``text_reply``, ``bad_value_reply`` (400),
  ``not_found_reply`` (404) and ``fault_reply`` (429/500/503 for a ``Fault``).

What each profile does (known items only, except the token bucket):

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

Determinism: faults come from a hash of (seed, item id, route kind, method,
attempt number of that same key), never from a global request sequence, so
concurrent clients see the same faults whatever order their threads run in.
Attempts are counted per (route kind, method, item) among requests that reach
``decide`` (answers 401/400/404 and rate-limit 429s do not use one up).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

PROFILES: tuple[str, ...] = ("healthy", "flaky", "rate-limited", "bad-auth", "mixed")

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
                 rate_limit_burst: int = 10) -> None:
        self.profile = validate_profile(profile)
        self.seed = seed
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
            delay = 0.150 + 0.250 * span_draw if slow_draw < 0.10 else 0.0
            if kind == "image" and method == "GET":
                failures = 2 if key_draw < 0.05 else 1 if key_draw < 0.15 else 0
                if attempt <= failures:
                    return Fault(status=503, delay_s=delay)
            return Fault(delay_s=delay)
        # mixed
        delay = 0.100 + 0.200 * span_draw if slow_draw < 0.05 else 0.0
        if self.is_persistently_broken(index):
            return Fault(status=500, delay_s=delay)
        if attempt == 1 and key_draw < 0.08:
            return Fault(status=503, delay_s=delay)
        if attempt == 1 and key_draw < 0.13:
            return Fault(status=429, delay_s=delay, retry_after=1)
        return Fault(delay_s=delay)


@dataclass
class Reply:
    """One HTTP answer; ``delay_s`` is slept before sending (slow responses)."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def json_reply(status: int, obj: object, content_type: str = "application/json; charset=utf-8") -> Reply:
    return Reply(status, json.dumps(obj, separators=(",", ":")).encode(), content_type)


def problem_reply(status: int, title: str, rfc: str, **extra: object) -> Reply:
    """ASP.NET Core's ProblemDetails shape, which Jellyfin's controllers return for errors."""
    body = {"type": f"https://tools.ietf.org/html/{rfc}", "title": title, "status": status, **extra,
            "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"}
    return json_reply(status, body, "application/problem+json; charset=utf-8")


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), "text/plain; charset=utf-8")


def bad_value_reply(name: str, raw: str) -> Reply:
    return problem_reply(400, "One or more validation errors occurred.", "rfc9110#section-15.5.1",
                         errors={name: [f"The value '{raw}' is not valid."]})


def not_found_reply() -> Reply:
    return problem_reply(404, "Not Found", "rfc9110#section-15.5.5")


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
    return reply
