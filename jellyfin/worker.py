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
depend on debug being on. The asyncio twin is ``worker_async.run_job_async``;
both are thin shells around ``worker_steps`` (the run, each item, each
request's attempts), and the configuration is ``worker_config``.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from ..instrumentation import job_span
from .worker_config import AUTH_MODES, MAX_RETRY_AFTER_SECONDS, SESSION_STRATEGIES, WorkerConfig
from .worker_items import do_item, on_threads
from .worker_results import ItemResult, JobResult, Progress
from .worker_steps import RETRY_STATUSES, Attempts, Run, new_job_id

__all__ = [
    "AUTH_MODES", "MAX_RETRY_AFTER_SECONDS", "RETRY_STATUSES", "SESSION_STRATEGIES", "ItemResult", "JobResult",
    "Progress", "WorkerConfig", "new_job_id", "run_job",
]


class _SyncRunner:
    """The steps of ``worker_steps`` on threads: it only sends and sleeps."""

    def __init__(self, run: Run, client: httpx.Client | None) -> None:
        self.run, self.client = run, client

    def send(self, method: str, path: str, auth: bool, result: ItemResult) -> httpx.Response:
        tries = Attempts(self.run, result, method, path)
        return tries.retried(lambda: self._once(method, path, auth), httpx.TransportError)

    def _once(self, method: str, path: str, auth: bool) -> httpx.Response:
        run = self.run
        url, kwargs = run.config.base_url + path, run.request_kwargs(auth, asynchronous=False)
        if self.client is not None:
            return self.client.request(method, url, **kwargs)
        with run.client() as client:
            return client.request(method, url, **kwargs)

    def item(self, item_id: str) -> ItemResult:
        return do_item(self.run.config, item_id, self.send)


def run_job(
    config: WorkerConfig,
    item_ids: Sequence[str],
    job_id: str | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Process every item (threads when ``concurrency`` > 1) and return the outcome."""
    run = Run.begin(config, job_id)
    result = run.result
    with job_span(result.job_id, items_total=len(item_ids)):
        client = run.client() if run.shared else None
        try:
            runner = _SyncRunner(run, client)

            result.items = on_threads(item_ids, config.concurrency, runner.item, progress)
        finally:
            run.bounds.close()
            if client is not None:
                client.close()
    return run.finish()
