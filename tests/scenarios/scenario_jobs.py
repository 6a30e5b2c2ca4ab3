"""Poster jobs written from scratch with plain httpx, as a user of batch-debug would write them.

Neither is the reference worker: they share none of its code, its retry
rules or its error texts. Both do, per item, an authenticated lookup
(``GET /Items/{id}``) and the image download, trying a request twice on 5xx
and transport errors, with no pacing and no backoff. ``Outcome`` counts what
the job itself sent, so tests can compare the job file with the client's
view as well as with the simulator's.

- :func:`gather_job`: ``httpx.AsyncClient`` shared by ``asyncio.gather`` over
  every item, a semaphore of ``concurrency``;
- :func:`threaded_job`: one ``httpx.Client`` shared by a thread pool of
  ``concurrency``; ``copy_context=False`` submits work the naive way (the
  requests then run outside the job).

``headers`` picks how the key travels; ``paste_headers`` puts the request's
headers into the item's error text (a common debugging habit);
``crash_after`` makes the job's own code raise after that many items.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from batch_debug.instrumentation import item_span, job_span

RETRIED = frozenset({500, 502, 503, 504})


class JobCrashed(RuntimeError):
    """The job's own code failed (not a request)."""


def key_headers(key: str, form: str) -> dict[str, str]:
    if form == "authorization":
        return {"Authorization": f'MediaBrowser Client="poster-job", Token="{key}"'}
    if form == "x-emby-token":
        return {"X-Emby-Token": key}
    raise ValueError(form)


def key_params(key: str, form: str) -> dict[str, str]:
    return {"ApiKey": key} if form == "query-apikey" else {}


@dataclass
class Outcome:
    sent: int = 0
    failed_items: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> None:
        with self.lock:
            self.sent += 1


def failure(got: httpx.Response | BaseException, paste: bool) -> str | None:
    """Why a request failed the item (None when it did not), as the job words it."""
    if isinstance(got, BaseException):
        return _describe(None, got, paste)
    return _describe(got, None, paste) if got.status_code >= 400 else None


def _describe(response: httpx.Response | None, error: BaseException | None, paste: bool) -> str:
    what = f"HTTP {response.status_code}" if response is not None else type(error).__name__
    if paste:
        request = response.request if response is not None else getattr(error, "request", None)
        if request is not None:
            # What people paste when they debug: the headers as a dict, and the query values bare.
            what += f" sent with headers {dict(request.headers)} and query {dict(request.url.params)}"
    return what


def threaded_job(server: str, key: str, ids: list[str], job_id: str, *, concurrency: int = 8,
                 form: str = "authorization", timeout: float = 5.0, copy_context: bool = True,
                 paste_headers: bool = False, crash_after: int | None = None) -> Outcome:
    outcome = Outcome()
    headers, params = (key_headers(key, form), {}) if form != "query-apikey" else ({}, key_params(key, form))

    def fetch(client: httpx.Client, path: str, auth: bool) -> httpx.Response | BaseException:
        result: httpx.Response | BaseException = RuntimeError("not sent")
        for _ in range(2):
            outcome.count()
            try:
                result = client.get(path, headers=headers if auth else None, params=params if auth else None)
            except httpx.TransportError as exc:
                result = exc
                continue
            if result.status_code not in RETRIED:
                return result
        return result

    def one(client: httpx.Client, item_id: str) -> None:
        with item_span(item_id) as item:
            for path, auth in ((f"/Items/{item_id}", True), (f"/Items/{item_id}/Images/Primary", False)):
                reason = failure(fetch(client, path, auth), paste_headers)
                if reason is not None:
                    item.fail(reason)
                    outcome.failed_items.append(item_id)
                    return

    with job_span(job_id, items_total=len(ids)):
        with httpx.Client(base_url=server, timeout=timeout, follow_redirects=True) as client:
            if crash_after is not None:
                for n, item_id in enumerate(ids):
                    if n == crash_after:
                        raise JobCrashed(f"could not parse the row after item {n}")
                    one(client, item_id)
            else:
                with ThreadPoolExecutor(concurrency) as pool:
                    if copy_context:
                        futures = [pool.submit(contextvars.copy_context().run, one, client, i) for i in ids]
                    else:
                        futures = [pool.submit(one, client, i) for i in ids]
                    for future in futures:
                        future.result()
    return outcome


def gather_job(server: str, key: str, ids: list[str], job_id: str, *, concurrency: int = 8,
               form: str = "authorization", timeout: float = 5.0, paste_headers: bool = False,
               crash_after: int | None = None) -> Outcome:
    outcome = Outcome()
    headers, params = (key_headers(key, form), {}) if form != "query-apikey" else ({}, key_params(key, form))

    async def fetch(client: httpx.AsyncClient, path: str, auth: bool) -> httpx.Response | BaseException:
        result: httpx.Response | BaseException = RuntimeError("not sent")
        for _ in range(2):
            outcome.count()
            try:
                result = await client.get(path, headers=headers if auth else None, params=params if auth else None)
            except httpx.TransportError as exc:
                result = exc
                continue
            if result.status_code not in RETRIED:
                return result
        return result

    async def one(client: httpx.AsyncClient, gate: asyncio.Semaphore, n: int, item_id: str) -> None:
        async with gate:
            if crash_after is not None and n == crash_after:
                raise JobCrashed(f"could not parse the row after item {n}")
            async with item_span(item_id) as item:
                for path, auth in ((f"/Items/{item_id}", True), (f"/Items/{item_id}/Images/Primary", False)):
                    reason = failure(await fetch(client, path, auth), paste_headers)
                    if reason is not None:
                        item.fail(reason)
                        outcome.failed_items.append(item_id)
                        return

    async def main() -> None:
        gate = asyncio.Semaphore(concurrency)
        async with job_span(job_id, items_total=len(ids)):
            async with httpx.AsyncClient(base_url=server, timeout=timeout, follow_redirects=True) as client:
                await asyncio.gather(*(one(client, gate, n, i) for n, i in enumerate(ids)))

    asyncio.run(main())
    return outcome


Job = Callable[..., Outcome]


def reference_job(server: str, key: str, ids: list[str], job_id: str, *, concurrency: int = 8,
                  form: str = "authorization", timeout: float = 5.0, crash_after: int | None = None,
                  **_: Any) -> Outcome:
    """The reference worker (lookup, HEAD, GET; three attempts), with no pacing or backoff.

    ``crash_after``: its progress callback (the caller's code) raises after that many items.
    """
    from batch_debug.jellyfin.worker import WorkerConfig, run_job
    from support import NO_WAIT

    auth = {"authorization": "header", "x-emby-token": "legacy-header", "query-apikey": "query"}[form]
    done: list[Any] = []

    def progress(item: Any) -> None:
        done.append(item)
        if crash_after is not None and len(done) == crash_after:
            raise JobCrashed(f"could not parse the row after item {crash_after}")

    result = run_job(WorkerConfig(server=server, api_key=key, concurrency=concurrency, timeout=timeout, auth=auth,
                                  **NO_WAIT), ids, job_id, progress=progress)
    return Outcome(sent=result.requests, failed_items=[i.item_id for i in result.items if not i.ok])


STYLES: dict[str, Job] = {"reference": reference_job, "gather": gather_job, "threads": threaded_job}
