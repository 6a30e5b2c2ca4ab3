"""The reference batch worker: download Jellyfin posters with httpx.

Usage::

    from batch_debug.jellyfin.worker import WorkerConfig, run_job
    result = run_job(WorkerConfig(server=url, api_key=key), item_ids, job_id="job-1")

For each item, as the poster tool of the seed does: look the item up
(``GET /Items/{id}`` or ``/Users/{uid}/Items/{id}``, authenticated), probe the
image (``HEAD /Items/{id}/Images/Primary``), then download it (``GET``).
Redirects are followed, as aiohttp and requests do by default. A
request is retried on 429, 5xx and network errors, up to ``max_attempts``
attempts, waiting ``backoff`` seconds (1 s then 2 s) or the server's
``Retry-After`` if it asks for longer. A pacer keeps at least
``min_interval`` seconds between requests across all workers of the job.

Bounds (both off by default; the dashboard's Custom ID Test sets them):
``max_body_bytes`` caps the bytes read of any one answer, redirects
included (bodies are read as a stream; past the cap the item fails at once,
with no retry, and the body is not kept); ``deadline_seconds`` bounds the
whole run: it is checked before each attempt and between chunks of a body,
waits are cut short by it and no request waits longer than what is left, so
a server that trickles one byte a second ends the item at the deadline. With
a cap the worker asks for ``Accept-Encoding: identity`` and fails an answer
that comes compressed anyway, as its decoded size is not what was counted.
With ``output_dir``, an item id that is not a plain file name (a path
separator, ``.``/``..``, a NUL) fails before any request: posters are only
ever written inside that folder, never through a link.

The job runs inside ``job_span`` and each item inside ``item_span``; with
debug on, the job file records every attempt. The worker itself does not
depend on debug being on. The asyncio twin is ``worker_async.run_job_async``.
"""

from __future__ import annotations

import contextvars
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from ..collector.jobfile import validate_job_id
from ..instrumentation import current_pipeline, item_span, job_span
from .bounds import ItemFailure as _Failure, RunBounds
from .posters import check_item_id, save_poster

AUTH_MODES = ("header", "query", "legacy-header", "legacy-query")
SESSION_STRATEGIES = ("shared", "per-request")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker talks to Jellyfin. Defaults follow the original tool."""

    server: str
    api_key: str
    user_id: str | None = None
    max_attempts: int = 3
    backoff: tuple[float, ...] = (1.0, 2.0)
    min_interval: float = 0.1
    session_strategy: str = "shared"
    concurrency: int = 1
    auth: str = "header"
    timeout: float = 10.0
    output_dir: Path | None = None
    #: The longest Retry-After the worker waits for (tests: 0, no waiting).
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS
    #: Most bytes read of any one answer's body; None: no cap.
    max_body_bytes: int | None = None
    #: Seconds the whole run may take; None: no deadline.
    deadline_seconds: float | None = None

    def __post_init__(self) -> None:
        if not self.server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http:// or https:// URL, not {self.server!r}.")
        if self.auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}.")
        if self.session_strategy not in SESSION_STRATEGIES:
            raise ValueError(
                f"session_strategy must be one of {', '.join(SESSION_STRATEGIES)}, not {self.session_strategy!r}."
            )
        if self.max_attempts < 1 or self.concurrency < 1:
            raise ValueError("max_attempts and concurrency must be at least 1.")
        if self.min_interval < 0 or self.timeout <= 0 or self.max_retry_after < 0:
            raise ValueError("min_interval and max_retry_after must be >= 0 and timeout > 0.")
        if self.max_body_bytes is not None and (isinstance(self.max_body_bytes, bool) or self.max_body_bytes < 1):
            raise ValueError(f"max_body_bytes must be None or at least 1, not {self.max_body_bytes!r}.")
        if self.deadline_seconds is not None and not self.deadline_seconds > 0:
            raise ValueError(f"deadline_seconds must be None or positive, not {self.deadline_seconds!r}.")

    @property
    def base_url(self) -> str:
        return self.server.rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        if self.auth == "header":
            return {"Authorization": f'MediaBrowser Client="batch-debug", Device="worker", '
                                     f'DeviceId="batch-debug", Version="1", Token="{self.api_key}"'}
        if self.auth == "legacy-header":
            return {"X-Emby-Token": self.api_key}
        return {}

    def auth_params(self) -> dict[str, str]:
        if self.auth == "query":
            return {"ApiKey": self.api_key}
        if self.auth == "legacy-query":
            return {"api_key": self.api_key}
        return {}


@dataclass
class ItemResult:
    item_id: str
    ok: bool
    status_code: int | None = None
    error: str | None = None
    requests: int = 0
    size_bytes: int = 0


@dataclass
class JobResult:
    job_id: str
    items: list[ItemResult] = field(default_factory=list)
    duration_seconds: float = 0.0
    job_file: Path | None = None

    @property
    def succeeded(self) -> int:
        return sum(1 for item in self.items if item.ok)

    @property
    def failed(self) -> int:
        return len(self.items) - self.succeeded

    @property
    def requests(self) -> int:
        return sum(item.requests for item in self.items)


Progress = Callable[[ItemResult], None]


def new_job_id() -> str:
    """A fresh job id: ``job-YYYYmmdd-HHMMSS-xxxxxx`` (UTC)."""
    return f"job-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class _Pacer:
    """At least ``interval`` seconds between request starts, across threads."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds the caller must wait before its request."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now


def _client(config: WorkerConfig, bounds: RunBounds) -> httpx.Client:
    return httpx.Client(timeout=config.timeout, follow_redirects=True,
                        event_hooks=bounds.event_hooks(asynchronous=False))


def _async_client(config: WorkerConfig, bounds: RunBounds) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=config.timeout, follow_redirects=True,
                             event_hooks=bounds.event_hooks(asynchronous=True))


def _request_kwargs(config: WorkerConfig, bounds: RunBounds, auth: bool, *, asynchronous: bool) -> dict[str, Any]:
    headers = {**bounds.headers(), **(config.auth_headers() if auth else {})}
    kwargs = {"headers": headers, "params": config.auth_params() if auth else {},
              "timeout": bounds.timeout(config.timeout)}
    if bounds.deadline is not None and not asynchronous:  # asyncio cancels at the deadline instead
        kwargs["extensions"] = {"trace": bounds.trace}
    return kwargs


def _retry_delay(config: WorkerConfig, attempt: int, response: httpx.Response | None) -> float:
    delay = config.backoff[min(attempt - 1, len(config.backoff) - 1)] if config.backoff else 0.0
    if response is not None:
        try:
            asked = float(response.headers.get("retry-after", ""))
            delay = max(delay, min(asked, config.max_retry_after))
        except ValueError:
            pass
    return delay


def _paths(config: WorkerConfig, item_id: str) -> list[tuple[str, str, bool]]:
    lookup = f"/Users/{config.user_id}/Items/{item_id}" if config.user_id else f"/Items/{item_id}"
    image = f"/Items/{item_id}/Images/Primary"
    return [("GET", lookup, True), ("HEAD", image, False), ("GET", image, False)]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _judge(config: WorkerConfig, attempt: int, method: str, path: str, response: httpx.Response | None,
           error: BaseException | None) -> float | None:
    """What an attempt means: None for success, seconds to wait before a retry,
    or :class:`_Failure` raised when the item cannot get this resource."""
    if response is not None and response.status_code < 400:
        return None
    if response is not None:
        failure = _Failure(response.status_code, f"HTTP {response.status_code} on {method} {path}")
        if response.status_code not in RETRY_STATUSES:
            raise failure
    else:
        failure = _Failure(None, _describe(error) if error is not None else "no response")
    if attempt >= config.max_attempts:
        raise failure
    return _retry_delay(config, attempt, response)


class _SyncRunner:
    def __init__(self, config: WorkerConfig, pacer: _Pacer, client: httpx.Client | None, bounds: RunBounds) -> None:
        self.config, self.pacer, self.client, self.bounds = config, pacer, client, bounds

    def send(self, method: str, path: str, auth: bool, result: ItemResult) -> httpx.Response:
        bounds = self.bounds
        for attempt in range(1, self.config.max_attempts + 1):
            bounds.check_time()
            time.sleep(bounds.wait(self.pacer.reserve()))
            bounds.check_time()
            result.requests += 1
            response, error = None, None
            try:
                response = self._once(method, path, auth)
            except httpx.TransportError as exc:
                error = exc
            delay = _judge(self.config, attempt, method, path, response, error)
            if delay is None:
                return response  # type: ignore[return-value]
            time.sleep(bounds.wait(delay))
        raise AssertionError("unreachable: _judge raises on the last attempt")

    def _once(self, method: str, path: str, auth: bool) -> httpx.Response:
        config = self.config
        kwargs = _request_kwargs(config, self.bounds, auth, asynchronous=False)
        if self.client is not None:
            return self.client.request(method, config.base_url + path, **kwargs)
        with _client(config, self.bounds) as client:
            return client.request(method, config.base_url + path, **kwargs)

    def item(self, item_id: str) -> ItemResult:
        result = ItemResult(item_id, ok=False)
        with item_span(item_id) as span:
            try:
                check_item_id(self.config.output_dir, item_id)
                for method, path, auth in _paths(self.config, item_id):
                    response = self.send(method, path, auth, result)
                    result.status_code = response.status_code
                result.size_bytes = len(response.content)
                save_poster(self.config.output_dir, item_id, response.status_code, response.content)
                result.ok = True
            except _Failure as failure:
                result.status_code, result.error = failure.status, str(failure)
                span.fail(result.error)
        return result


def _finish(result: JobResult, started: float) -> JobResult:
    result.duration_seconds = round(time.monotonic() - started, 3)
    pipeline = current_pipeline()
    if pipeline is not None and pipeline.switch.is_on():
        result.job_file = pipeline.job_file(result.job_id)
    return result


def _begin(config: WorkerConfig, job_id: str | None) -> tuple[JobResult, float, _Pacer, RunBounds]:
    """What both runners do first: the job id, a clock, a pacer and the run's bounds.

    The API key is not registered as a process-wide secret here: every form
    it travels in is redacted at the source, and a caller-supplied key (the
    dashboard's Custom ID Test) must not make the process redact arbitrary
    words. The CLI registers the key of its own run.
    """
    job_id = validate_job_id(job_id) if job_id is not None else new_job_id()
    return JobResult(job_id), time.monotonic(), _Pacer(config.min_interval), RunBounds(config.max_body_bytes, config.deadline_seconds)


def run_job(
    config: WorkerConfig,
    item_ids: Sequence[str],
    job_id: str | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Process every item (threads when ``concurrency`` > 1) and return the outcome."""
    result, started, pacer, bounds = _begin(config, job_id)
    job_id = result.job_id
    with job_span(job_id, items_total=len(item_ids)):
        client = _client(config, bounds) if config.session_strategy == "shared" else None
        try:
            runner = _SyncRunner(config, pacer, client, bounds)

            def one(item_id: str) -> ItemResult:
                outcome = runner.item(item_id)
                if progress is not None:
                    progress(outcome)
                return outcome

            if config.concurrency == 1:
                result.items = [one(item_id) for item_id in item_ids]
            else:
                with ThreadPoolExecutor(config.concurrency, thread_name_prefix="poster") as pool:
                    # Each task gets its own copy of the context, so it sits under the job span.
                    futures = [pool.submit(contextvars.copy_context().run, one, i) for i in item_ids]
                    result.items = [future.result() for future in futures]
        finally:
            bounds.close()
            if client is not None:
                client.close()
    return _finish(result, started)
