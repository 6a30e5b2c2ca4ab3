"""The reference batch worker on aiohttp: ``aiohttp.ClientSession`` and ``concurrency`` asyncio tasks.

Usage::

    from batch_debug.jellyfin.worker_aiohttp import run_job_aiohttp
    result = await run_job_aiohttp(WorkerConfig(server=url, api_key=key, concurrency=4), item_ids)

Does per item exactly what :func:`worker.run_job` does (same requests,
retries, pacing and results), a thin shell around ``worker_steps`` like
``worker_async``. ``session_strategy="per-request"`` opens a
``ClientSession`` per request, as the poster tool of the seed does. Each
answer is read whole (``read()``) and handed to the steps as a
``worker_results.ReadAnswer``; aiohttp errors (``aiohttp.ClientError``, its
timeouts included) are the network errors that are retried.

``timeout`` is aiohttp's ``sock_connect`` and ``sock_read`` (connecting, and
between bytes: httpx's connect and read timeouts) and ``connect`` (which
also covers waiting for a pooled connection: httpx's pool timeout); no
total. Bounds, as far as aiohttp allows: the deadline cancels a request in
flight (``asyncio.timeout``) and no request's timeouts reach past it, as in
``worker_async``; with ``max_body_bytes`` a body is read chunk by chunk and
the item fails past the cap, and an answer that comes compressed although
``identity`` was asked for fails. What differs: aiohttp follows redirects
itself and releases a redirect's body unread, so the cap counts the final
answer's body only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from ..instrumentation import job_span
from .bounds import ItemFailure, RunBounds
from .worker_config import WorkerConfig
from .worker_items import do_item_async, on_tasks
from .worker_results import ItemResult, JobResult, Progress, ReadAnswer
from .worker_steps import Attempts, Run

_CHUNK = 64 << 10


def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=seconds, sock_connect=seconds, sock_read=seconds)


def _session(run: Run) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=_timeout(run.config.timeout))


async def _body(response: aiohttp.ClientResponse, bounds: RunBounds) -> bytes:
    """The whole body; through the run's cap and deadline when it has them."""
    if bounds.max_body is None and bounds.deadline is None:
        return await response.read()
    status = response.status
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if bounds.max_body is not None and encoding not in ("", "identity"):
        raise ItemFailure(status, f"the answer to {response.method} {response.url.path} came compressed "
                                  f"({encoding}) though the worker asked for identity; its size cannot be capped")
    chunks, size, cap = [], 0, bounds.max_body
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if cap is not None and size > cap:
            raise ItemFailure(status, f"the answer's body is larger than the cap of {cap} bytes; "
                                      f"reading stopped after {size} bytes")
        bounds.check_time(status)
        chunks.append(chunk)
    return b"".join(chunks)


async def _fetch(session: aiohttp.ClientSession, method: str, url: str, kwargs: dict[str, Any],
                 bounds: RunBounds) -> ReadAnswer:
    async with session.request(method, url, allow_redirects=True, **kwargs) as response:
        content = await _body(response, bounds)
        return ReadAnswer(response.status, response.headers, content)


async def run_job_aiohttp(
    config: WorkerConfig,
    item_ids: Sequence[str],
    job_id: str | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """The aiohttp version of :func:`worker.run_job`, with ``concurrency`` tasks at once."""
    run = Run.begin(config, job_id)
    result, bounds = run.result, run.bounds
    async with job_span(result.job_id, items_total=len(item_ids)):
        shared = _session(run) if run.shared else None
        try:
            async def send(method: str, path: str, auth: bool, item: ItemResult) -> ReadAnswer:
                async def once() -> ReadAnswer:
                    url = config.base_url + path
                    kwargs = {"headers": {**bounds.headers(), **(config.auth_headers() if auth else {})},
                              "params": config.auth_params() if auth else {},
                              "timeout": _timeout(bounds.timeout(config.timeout))}
                    if shared is not None:
                        return await _fetch(shared, method, url, kwargs, bounds)
                    async with _session(run) as session:
                        return await _fetch(session, method, url, kwargs, bounds)

                return await Attempts(run, item, method, path).retried_async(once, aiohttp.ClientError)

            async def item(item_id: str) -> ItemResult:
                return await do_item_async(config, item_id, send)

            result.items = await on_tasks(item_ids, config.concurrency, item, progress)
        finally:
            bounds.close()
            if shared is not None:
                await shared.close()
    return run.finish()
