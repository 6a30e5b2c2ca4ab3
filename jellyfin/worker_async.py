"""The reference batch worker on asyncio: ``httpx.AsyncClient`` and ``concurrency`` tasks at once.

Usage::

    from batch_debug.jellyfin.worker_async import run_job_async
    result = await run_job_async(WorkerConfig(server=url, api_key=key, concurrency=4), item_ids)

Does per item exactly what :func:`worker.run_job` does (same requests, retries,
pacing, bounds and results), with tasks instead of threads; see ``worker``
for the contract.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from ..instrumentation import item_span, job_span
from .posters import check_item_id, save_poster
from .worker import (
    ItemResult, JobResult, Progress, WorkerConfig, _async_client, _begin, _Failure, _finish, _judge,
    _paths, _request_kwargs,
)


async def run_job_async(
    config: WorkerConfig,
    item_ids: Sequence[str],
    job_id: str | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """The asyncio version of :func:`run_job`, with ``concurrency`` tasks at once."""
    result, started, pacer, bounds = _begin(config, job_id)
    job_id = result.job_id
    gate = asyncio.Semaphore(config.concurrency)
    async with job_span(job_id, items_total=len(item_ids)):
        shared = _async_client(config, bounds) if config.session_strategy == "shared" else None
        try:
            async def send(method: str, path: str, auth: bool, item: ItemResult) -> httpx.Response:
                for attempt in range(1, config.max_attempts + 1):
                    bounds.check_time()
                    await asyncio.sleep(bounds.wait(pacer.reserve()))
                    bounds.check_time()
                    item.requests += 1
                    response, error = None, None
                    kwargs = _request_kwargs(config, bounds, auth, asynchronous=True)
                    try:
                        async with asyncio.timeout(bounds.left()):  # None: no deadline
                            if shared is not None:
                                response = await shared.request(method, config.base_url + path, **kwargs)
                            else:
                                async with _async_client(config, bounds) as client:
                                    response = await client.request(method, config.base_url + path, **kwargs)
                    except httpx.TransportError as exc:
                        error = exc
                    except TimeoutError:
                        bounds.check_time()  # the deadline passed mid-request: _Failure
                        raise
                    delay = _judge(config, attempt, method, path, response, error)
                    if delay is None:
                        return response  # type: ignore[return-value]
                    await asyncio.sleep(bounds.wait(delay))
                raise AssertionError("unreachable: _judge raises on the last attempt")

            async def one(item_id: str) -> ItemResult:
                async with gate:
                    outcome = ItemResult(item_id, ok=False)
                    async with item_span(item_id) as span:
                        try:
                            check_item_id(config.output_dir, item_id)
                            for method, path, auth in _paths(config, item_id):
                                response = await send(method, path, auth, outcome)
                                outcome.status_code = response.status_code
                            outcome.size_bytes = len(response.content)
                            save_poster(config.output_dir, item_id, response.status_code, response.content)
                            outcome.ok = True
                        except _Failure as failure:
                            outcome.status_code, outcome.error = failure.status, str(failure)
                            span.fail(outcome.error)
                    if progress is not None:
                        progress(outcome)
                    return outcome

            result.items = list(await asyncio.gather(*(one(i) for i in item_ids)))
        finally:
            bounds.close()
            if shared is not None:
                await shared.aclose()
    return _finish(result, started)
