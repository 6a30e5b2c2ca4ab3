"""The Custom ID Test: run the reference worker on one item and explain it.

Usage::

    result = diagnose("http://jellyfin:8096", api_key, "0123456789abcdef0123456789abcdef")
    result["ok"], result["attempts"], result["findings"], result["diagnosis"]

The worker runs exactly as in a batch (lookup, HEAD probe, download; up to
three attempts per request with a short backoff). Its attempts are recorded
by the same record builder as every job (``instrumentation.exchange``): the
run happens inside ``jobstate.capturing()``, which hands this module the
job's spans whether debug tracing is on (the job is also written as usual)
or off (recorded for this answer only). The records go through the same
diagnosis a job file carries. The API key never appears in the result: it
and every credential the run sends are learned into a private secret book
(not the process's: a caller may supply any key), URLs and texts are
redacted, and the whole answer passes through ``redact_tree``.

Bounds: the run reads at most ``max_body_bytes`` of any answer and stops at
``deadline_seconds`` (``WorkerConfig``); the answer's ``limits`` says which
were in force and each attempt's ``body_bytes`` how much was read.
:func:`choose_target` decides which server the run may call and with which
key; :class:`Slots` caps how many runs go at once.
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import datetime, timezone
from typing import Any

from ..collector import analysis, records
from ..collector.redact import redact_tree, redact_url
from ..collector.secrets import private_book
from ..instrumentation.jobstate import capturing
from ..instrumentation.pipeline import ensure_gate
from ..jellyfin.worker import WorkerConfig, run_job
from .schemas import ITEM_ID_EXPECTED, ITEM_ID_PATTERN

ITEM_ID_RE = re.compile(ITEM_ID_PATTERN)  # the rule the API's TestItemRequest schema publishes
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (0.2, 0.5)
TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_BODY_BYTES = 32 << 20  # a high-resolution poster is a few MB
DEFAULT_DEADLINE_SECONDS = 60.0
DEFAULT_CONCURRENCY = 2


class TargetRefused(Exception):
    """The request may not run against that server, or names none; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _same_server(server: str, configured_url: str) -> bool:
    return server.rstrip("/") == configured_url.rstrip("/")


def choose_target(server: str | None, api_key: str | None, *, configured_url: str | None,
                  configured_key: str | None, any_server: bool) -> tuple[str, str]:
    """The (server, key) a run uses, or TargetRefused naming exactly what is missing.

    Rules:

    - Without ``server`` (or with the configured URL itself) the configured
      Jellyfin is used, with the request's ``api_key`` if it sends one, else
      the configured key. No configured URL: 400 naming ``JELLYFIN_URL``;
      a configured URL without a key and none sent: 400 naming
      ``JELLYFIN_API_KEY`` (the server *is* configured, its key is not).
    - A ``server`` other than the configured one is allowed only when
      ``any_server`` (the dashboard has a token: its callers are trusted);
      otherwise the test would let anyone who reaches the page probe
      internal services (SSRF), a 403.
    - The configured key goes only to the configured server: a request
      naming another server brings its own ``api_key`` (400 otherwise).

    The configured URL is quoted redacted (no user:password, no secret query value).
    """
    shown = redact_url(configured_url) if configured_url else None
    if server is not None and not (configured_url and _same_server(server, configured_url)):
        if not any_server:
            if shown:
                raise TargetRefused(403, "Without an API token the Custom ID Test talks only to the configured "
                                         f"Jellyfin (JELLYFIN_URL={shown}): leave server out, or set "
                                         "APHRODITE_BATCH_DEBUG_TOKEN.")
            raise TargetRefused(403, "Without an API token the Custom ID Test talks only to the configured "
                                     "Jellyfin, and none is configured (JELLYFIN_URL is not set): set JELLYFIN_URL "
                                     "and JELLYFIN_API_KEY for the dashboard, or set APHRODITE_BATCH_DEBUG_TOKEN "
                                     "to name a server in the request.")
        if not api_key:
            if shown:
                raise TargetRefused(400, "api_key is required when server names a server other than the configured "
                                         f"one (JELLYFIN_URL={shown}): the configured key is sent only to it.")
            raise TargetRefused(400, "api_key is required with server: no Jellyfin server is configured "
                                     "(JELLYFIN_URL is not set), so there is no configured key to fall back on.")
        return server, api_key
    if not configured_url:
        if configured_key:
            missing, setting = "JELLYFIN_URL is not set (JELLYFIN_API_KEY is)", "set JELLYFIN_URL"
        else:
            missing, setting = "JELLYFIN_URL and JELLYFIN_API_KEY are not set", "set them"
        other = ("or send both server and api_key" if any_server else
                 "or set APHRODITE_BATCH_DEBUG_TOKEN to send server and api_key with the request")
        raise TargetRefused(400, f"No Jellyfin server is configured: {missing}; {setting} for the dashboard, "
                                 f"{other}.")
    key = api_key or configured_key
    if not key:
        raise TargetRefused(400, f"JELLYFIN_API_KEY is not set: the configured server JELLYFIN_URL={shown} has no "
                                 "key; set JELLYFIN_API_KEY for the dashboard, or send api_key with the request.")
    return server or configured_url, key


class Slots:
    """At most ``size`` runs at once; :meth:`take` answers at once, it never waits."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"The Custom ID Test needs at least 1 slot, not {size}.")
        self._free = threading.BoundedSemaphore(size)

    def take(self) -> bool:
        return self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()


def validate_item_id(item_id: object) -> str:
    """The item id, or ValueError saying what is allowed (for callers in code: the API checks its schema first)."""
    if not isinstance(item_id, str) or not ITEM_ID_RE.match(item_id):
        raise ValueError(f"item_id must be {ITEM_ID_EXPECTED}.")
    return item_id


def diagnose(server: str, api_key: str, item_id: str, *, timeout: float = TIMEOUT_SECONDS,
             max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
             deadline_seconds: float | None = DEFAULT_DEADLINE_SECONDS) -> dict[str, Any]:
    """Run the worker on ``item_id`` against ``server`` and return its diagnosis.

    Raises ValueError for a bad item id or server URL; everything that goes
    wrong on the wire, a body over the cap and the deadline included, is
    part of the answer, not an exception.
    """
    validate_item_id(item_id)
    config = WorkerConfig(server=server, api_key=api_key, max_attempts=MAX_ATTEMPTS,
                          backoff=BACKOFF_SECONDS, min_interval=0.0, timeout=timeout,
                          max_body_bytes=max_body_bytes, deadline_seconds=deadline_seconds)
    job_id = f"custom-test-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    ensure_gate()
    with private_book() as book, capturing() as capture:
        book.learn(api_key)
        result = run_job(config, [item_id], job_id=job_id)
    spans = list(capture.spans)
    start_ns = min((span.start_time or 0 for span in spans), default=0)
    requests, items = records.job_records(spans, start_ns)
    for item in items:
        item.pop("started_ns", None)
    outcome = result.items[0]
    env = analysis.environment(None, requests)
    life = {"ended": True, "complete": True, "items_declared": 1, "items_started": 1}
    findings, advice = analysis.diagnose(requests, items, life=life, env=env)
    answer = {
        "item_id": item_id,
        "ok": outcome.ok,
        "status_code": outcome.status_code,
        "error": outcome.error,
        "requests": len(requests),
        "size_bytes": outcome.size_bytes,
        "duration_seconds": result.duration_seconds,
        "server": redact_url(config.base_url),
        "server_header": env["server_header"],
        "attempts": requests,
        "findings": findings,
        "diagnosis": advice,
        "job_id": job_id,
        "job_file": result.job_file.name if result.job_file is not None else None,
        "limits": {"max_body_bytes": max_body_bytes, "deadline_seconds": deadline_seconds},
    }
    return redact_tree(answer, [api_key, *book.values()])  # type: ignore[return-value]
