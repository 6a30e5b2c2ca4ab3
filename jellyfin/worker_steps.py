"""What every runner of the reference worker does, written once: the run, each item, each request's attempts.

``worker.run_job`` (httpx, threads), ``worker_async.run_job_async`` (httpx,
tasks), ``worker_aiohttp.run_job_aiohttp`` (tasks) and
``worker_requests.run_job_requests`` (threads) are thin shells around these
steps: they only send, sleep and wait (or await them); ``worker_items``
runs the items. What a request does, abridged (the sync shell)::

    run = Run.begin(config, job_id)                 # job id, clock, pacer, bounds
    item = PosterItem(config, item_id)
    for method, path, auth in item.requests():      # ItemFailure for an unsafe item id
        tries = Attempts(run, item.result, method, path)
        while True:
            time.sleep(tries.pace())                # the pacer's wait, cut short by the deadline
            tries.start()                           # ItemFailure past the deadline
            response, error = send(...), None       # or (None, the httpx.TransportError)
            delay = tries.judge(response, error)    # ItemFailure when the item cannot get it
            if delay is None:
                break
            time.sleep(delay)
    item.done(response)                             # the poster saved
    run.finish()                                    # the JobResult, with its job file

A request is retried on 429, 5xx and network errors, up to
``max_attempts`` attempts, waiting ``backoff`` (or the server's
``Retry-After``, up to ``max_retry_after``).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx

from ..collector.body_kind import is_image
from ..collector.diagnosis.text import plural
from ..collector.jobfile import validate_job_id
from ..instrumentation import current_pipeline
from .bounds import ItemFailure, RunBounds
from .posters import check_item_id, save_poster
from .worker_config import WorkerConfig
from .worker_results import Answer, ItemResult, JobResult

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


#: What a runner's one attempt gives back (its client's response, or a ReadAnswer).
A = TypeVar("A", bound=Answer)
#: The exceptions of a client that mean "no answer" (a transport failure): retried like a 503.
Errors = type[BaseException] | tuple[type[BaseException], ...]


def new_job_id() -> str:
    """A fresh job id: ``job-YYYYmmdd-HHMMSS-xxxxxx`` (UTC)."""
    return f"job-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class Pacer:
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


@dataclass
class Run:
    """One run of the worker: its config, result, clock, pacer and bounds."""

    config: WorkerConfig
    result: JobResult
    started: float
    pacer: Pacer
    bounds: RunBounds

    @classmethod
    def begin(cls, config: WorkerConfig, job_id: str | None) -> Run:
        """What both runners do first: the job id, a clock, a pacer and the run's bounds.

        The API key is not registered as a process-wide secret here: every form
        it travels in is redacted at the source, and a caller-supplied key (the
        dashboard's Custom ID Test) must not make the process redact arbitrary
        words. The CLI registers the key of its own run.
        """
        job_id = validate_job_id(job_id) if job_id is not None else new_job_id()
        return cls(config, JobResult(job_id), time.monotonic(), Pacer(config.min_interval),
                   RunBounds(config.max_body_bytes, config.deadline_seconds))

    @property
    def shared(self) -> bool:
        """One client for the whole run (else one per request)."""
        return self.config.session_strategy == "shared"

    def client(self) -> httpx.Client:
        return httpx.Client(timeout=self.config.timeout, follow_redirects=True,
                            event_hooks=self.bounds.event_hooks(asynchronous=False))

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.config.timeout, follow_redirects=True,
                                 event_hooks=self.bounds.event_hooks(asynchronous=True))

    def request_kwargs(self, auth: bool, *, asynchronous: bool) -> dict[str, Any]:
        config, bounds = self.config, self.bounds
        headers = {**bounds.headers(), **(config.auth_headers() if auth else {})}
        kwargs = {"headers": headers, "params": config.auth_params() if auth else {},
                  "timeout": bounds.timeout(config.timeout)}
        if bounds.deadline is not None and not asynchronous:  # asyncio cancels at the deadline instead
            kwargs["extensions"] = {"trace": bounds.trace}
        return kwargs

    def finish(self) -> JobResult:
        """The run's result, with its duration and (debug on) its job file."""
        result = self.result
        result.duration_seconds = round(time.monotonic() - self.started, 3)
        pipeline = current_pipeline()
        if pipeline is not None and pipeline.switch.is_on():
            result.job_file = pipeline.job_file(result.job_id)
        return result


class PosterItem:
    """One item: the requests it takes, and what becomes of it."""

    def __init__(self, config: WorkerConfig, item_id: str) -> None:
        self.config = config
        self.result = ItemResult(item_id, ok=False)

    def requests(self) -> list[tuple[str, str, bool]]:
        """``(method, path, authenticated)`` of the look-up, the probe and the download;
        :class:`ItemFailure` for an item id that is not a safe file name (with ``output_dir``)."""
        config, item_id = self.config, self.result.item_id
        check_item_id(config.output_dir, item_id)
        lookup = f"/Users/{config.user_id}/Items/{item_id}" if config.user_id else f"/Items/{item_id}"
        image = f"/Items/{item_id}/Images/Primary"
        return [("GET", lookup, True), ("HEAD", image, False), ("GET", image, False)]

    def done(self, response: Answer) -> None:
        """Every request answered: ``response`` is the poster's; :class:`ItemFailure` when it is no image
        (a sign-in page, an error told with 200, nothing), which is not saved."""
        result = self.result
        result.status_code = response.status_code
        content = response.content
        result.size_bytes = len(content)
        content_type = response.headers.get("content-type")
        if not is_image(content, content_type):
            raise ItemFailure(response.status_code, f"HTTP {response.status_code} on GET "
                              f"/Items/{result.item_id}/Images/Primary is not an image "
                              f"({content_type or 'no Content-Type'}, {plural(len(content), 'byte')})")
        save_poster(self.config.output_dir, result.item_id, response.status_code, content)
        result.ok = True

    def failed(self, failure: ItemFailure, span: Any) -> None:
        """The item could not be done; ``span`` is its ``item_span``."""
        result = self.result
        result.status_code, result.error = failure.status, str(failure)
        span.fail(result.error)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Attempts:
    """The attempts of one request, all but the sending and the sleeping (see the module doc)."""

    def __init__(self, run: Run, result: ItemResult, method: str, path: str) -> None:
        self.run, self.result, self.method, self.path = run, result, method, path
        self.attempt = 0

    def pace(self) -> float:
        """Seconds to wait before the next attempt; :class:`ItemFailure` past the deadline."""
        bounds = self.run.bounds
        bounds.check_time()
        return bounds.wait(self.run.pacer.reserve())

    def start(self) -> None:
        """The wait is over: :class:`ItemFailure` past the deadline, else the attempt counts."""
        self.run.bounds.check_time()
        self.attempt += 1
        self.result.requests += 1

    def retried(self, once: Callable[[], A], errors: Errors) -> A:
        """``once()`` (one attempt: send, and read when the runner reads), paced, until it succeeds; a
        failure of ``errors`` (the client's transport errors) or a retryable status is retried while
        :meth:`judge` allows, which raises :class:`ItemFailure` on the last."""
        while True:
            time.sleep(self.pace())
            self.start()
            answer, error = None, None
            try:
                answer = once()
            except errors as exc:
                error = exc
            delay = self.judge(answer, error)
            if delay is None:
                return answer  # type: ignore[return-value]  # judge says None only for an answer
            time.sleep(delay)

    async def retried_async(self, once: Callable[[], Awaitable[A]], errors: Errors) -> A:
        """:meth:`retried` for a coroutine, each attempt cut at the run's deadline (``ItemFailure``)."""
        bounds = self.run.bounds
        while True:
            await asyncio.sleep(self.pace())
            self.start()
            answer, error = None, None
            try:
                async with asyncio.timeout(bounds.left()):  # None: no deadline
                    answer = await once()
            except errors as exc:
                error = exc
            except TimeoutError:
                bounds.check_time()  # the deadline passed mid-request: ItemFailure
                raise
            delay = self.judge(answer, error)
            if delay is None:
                return answer  # type: ignore[return-value]
            await asyncio.sleep(delay)

    def judge(self, response: Answer | None, error: BaseException | None) -> float | None:
        """What the attempt means: None for success, seconds to wait before a retry, or
        :class:`ItemFailure` raised when the item cannot get this resource."""
        if response is not None and response.status_code < 400:
            return None
        method, path = self.method, self.path
        if response is not None:
            failure = ItemFailure(response.status_code, f"HTTP {response.status_code} on {method} {path}")
            if response.status_code not in RETRY_STATUSES:
                raise failure
        else:
            failure = ItemFailure(None, _describe(error) if error is not None else "no response")
        if self.attempt >= self.run.config.max_attempts:
            raise failure
        return self.run.bounds.wait(self._retry_delay(response))

    def _retry_delay(self, response: Answer | None) -> float:
        config = self.run.config
        backoff = config.backoff
        delay = backoff[min(self.attempt - 1, len(backoff) - 1)] if backoff else 0.0
        if response is not None:
            try:
                asked = float(response.headers.get("retry-after", ""))
                delay = max(delay, min(asked, config.max_retry_after))
            except ValueError:
                pass
        return delay
