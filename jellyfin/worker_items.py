"""The reference worker's items: one item's requests in order, and all items on threads or tasks.

Usage (a runner gives its ``send``, which tries one request as ``worker_steps.Attempts`` says)::

    result.items = on_threads(item_ids, config.concurrency, lambda i: do_item(config, i, send), progress)
    result.items = await on_tasks(item_ids, config.concurrency, item_async, progress)

Every runner (httpx threads or tasks, aiohttp, requests) goes through these,
so an item is marked (``item_span``), failed (``ItemFailure``) and reported
(``progress``) the same way whatever the client.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..instrumentation import item_span
from .bounds import ItemFailure
from .worker_config import WorkerConfig
from .worker_results import ItemResult, Progress
from .worker_steps import PosterItem


#: How a runner sends one request of an item: ``(method, path, authenticated, item result)`` -> the answer.
Send = Callable[[str, str, bool, ItemResult], Any]
AsyncSend = Callable[[str, str, bool, ItemResult], Awaitable[Any]]


def do_item(config: WorkerConfig, item_id: str, send: Send) -> ItemResult:
    """One item, its requests sent in order through ``send`` inside its ``item_span`` (threads' runners)."""
    item = PosterItem(config, item_id)
    with item_span(item_id) as span:
        try:
            answer: Any = None  # PosterItem.requests() is never empty
            for method, path, auth in item.requests():
                answer = send(method, path, auth, item.result)
            item.done(answer)
        except ItemFailure as failure:
            item.failed(failure, span)
    return item.result


async def do_item_async(config: WorkerConfig, item_id: str, send: AsyncSend) -> ItemResult:
    """:func:`do_item` for asyncio runners: ``send`` is awaited."""
    item = PosterItem(config, item_id)
    async with item_span(item_id) as span:
        try:
            answer: Any = None  # PosterItem.requests() is never empty
            for method, path, auth in item.requests():
                answer = await send(method, path, auth, item.result)
            item.done(answer)
        except ItemFailure as failure:
            item.failed(failure, span)
    return item.result


def on_threads(item_ids: Sequence[str], concurrency: int, item: Callable[[str], ItemResult],
               progress: Progress | None) -> list[ItemResult]:
    """``item`` for every item id, ``concurrency`` threads at once (in order on this thread for 1), then
    ``progress``. Each task runs in its own copy of the context, so its requests sit under the job span."""
    def one(item_id: str) -> ItemResult:
        outcome = item(item_id)
        if progress is not None:
            progress(outcome)
        return outcome

    if concurrency == 1:
        return [one(item_id) for item_id in item_ids]
    with ThreadPoolExecutor(concurrency, thread_name_prefix="poster") as pool:
        futures = [pool.submit(contextvars.copy_context().run, one, item_id) for item_id in item_ids]
        return [future.result() for future in futures]


async def on_tasks(item_ids: Sequence[str], concurrency: int, item: Callable[[str], Awaitable[ItemResult]],
                   progress: Progress | None) -> list[ItemResult]:
    """:func:`on_threads` for asyncio: a task per item, ``concurrency`` at a time (tasks inherit the context)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item_id: str) -> ItemResult:
        async with gate:
            outcome = await item(item_id)
            if progress is not None:
                progress(outcome)
            return outcome

    return list(await asyncio.gather(*(one(item_id) for item_id in item_ids)))
