"""The reference batch worker on asyncio: ``httpx.AsyncClient`` and ``concurrency`` tasks at once.

Usage::

    from batch_debug.jellyfin.worker_async import run_job_async
    result = await run_job_async(WorkerConfig(server=url, api_key=key, concurrency=4), item_ids)

Does per item exactly what :func:`worker.run_job` does (same requests, retries,
pacing, bounds and results), with tasks instead of threads: both are thin
shells around ``worker_steps``; see ``worker`` for the contract. Here the
deadline also cancels a request in flight (``asyncio.timeout``).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from ..instrumentation import job_span
from .worker_config import WorkerConfig
from .worker_items import do_item_async, on_tasks
from .worker_results import ItemResult, JobResult, Progress
from .worker_steps import Attempts, Run


async def run_job_async(
    config: WorkerConfig,
    item_ids: Sequence[str],
    job_id: str | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """The asyncio version of :func:`run_job`, with ``concurrency`` tasks at once."""
    run = Run.begin(config, job_id)
    result, bounds = run.result, run.bounds
    async with job_span(result.job_id, items_total=len(item_ids)):
        shared = run.async_client() if run.shared else None
        try:
            async def send(method: str, path: str, auth: bool, item: ItemResult) -> httpx.Response:
                async def once() -> httpx.Response:
                    url, kwargs = config.base_url + path, run.request_kwargs(auth, asynchronous=True)
                    if shared is not None:
                        return await shared.request(method, url, **kwargs)
                    async with run.async_client() as client:
                        return await client.request(method, url, **kwargs)

                return await Attempts(run, item, method, path).retried_async(once, httpx.TransportError)

            async def item(item_id: str) -> ItemResult:
                return await do_item_async(config, item_id, send)

            result.items = await on_tasks(item_ids, config.concurrency, item, progress)
        finally:
            bounds.close()
            if shared is not None:
                await shared.aclose()
    return run.finish()
