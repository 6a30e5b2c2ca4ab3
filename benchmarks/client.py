"""One benchmark client run, in its own process: prints CPU (or wall) microseconds per request.

Usage: python benchmarks/client.py MODE URL ITEM_ID N DEBUG_DIR

MODE is ``[KIND_]VARIANT``: KIND is nothing (a sync ``httpx.Client``),
``async`` (``httpx.AsyncClient``), ``threads`` (8 threads sharing one
``httpx.Client``), ``aiohttp`` (``aiohttp.ClientSession``), ``requests``
(``requests.Session``) or ``small`` (a sync ``httpx.Client`` whose N
requests are made as jobs of ``SMALL_JOB`` requests, each up to its file on
disk: what an operator's rerun of a few items costs, where a job's own costs
weigh most); VARIANT is ``bare`` (the client alone), ``off``
(our ``setup()`` installed, debug off), ``on`` (debug on, the requests
wrapped in ``job_span`` / ``item_span`` as a worker does, three requests an
item) or, for the sync client only, ``stock_off`` / ``stock_on`` (the stock
httpx instrumentation with an ALWAYS_OFF sampler, or ALWAYS_ON and a
BatchSpanProcessor feeding an exporter that does nothing).

Each mode needs its own process because instrumentation is process-wide.
CPU time is ``time.process_time`` (all threads of the process, so the
background writer counts), measured over N requests after a warm-up; for
``on`` the measured span includes the job end and the job file being
written. ``threads`` modes are judged on wall time (the figure the issue
sets a goal for); both are printed. A client that is not installed, or that
``setup()`` does not instrument here, prints ``{"skipped": "<why>"}``.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from layers import LAYERS, take_away

WARMUP = 200
PER_ITEM = 3  # requests per item, as in the reference worker
THREADS = 8
SMALL_JOB = 9  # requests in each job of the ``small`` kind: three items of three
KINDS = ("", "async", "threads", "aiohttp", "requests", "small", "layers")
VARIANTS = ("bare", "off", "on", "stock_off", "stock_on")


def split_mode(mode: str) -> tuple[str, str]:
    """``"async_on"`` -> ``("async", "on")``; ``"stock_off"`` -> ``("", "stock_off")``."""
    for kind in KINDS[1:]:
        if mode.startswith(kind + "_"):
            variant = mode[len(kind) + 1:]
            if variant in ("bare", "off", "on") or (kind == "layers" and variant.removeprefix("on_") in LAYERS):
                return kind, variant
    if mode in VARIANTS:
        return "", mode
    raise SystemExit(f"unknown mode {mode!r}: [async_|threads_|aiohttp_|requests_|small_|layers_]bare/off/on, "
                     f"layers_on_{'/'.join(LAYERS)}, or stock_off/on")


def why_skipped(kind: str, variant: str) -> str | None:
    """Why this mode cannot run here (client not installed, or not instrumented by ``setup()``), or None.

    Call after ``setup()`` for ``off`` / ``on``: it asks which clients our instrumentation traces.
    """
    module = {"aiohttp": "aiohttp", "requests": "requests"}.get(kind)
    if module is None:
        return None
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed"
    if variant == "bare":
        return None
    try:
        from batch_debug.instrumentation.clients import instrumented_clients
    except ImportError:
        return "batch_debug.instrumentation.clients is missing"
    if kind not in instrumented_clients():
        return f"batch-debug does not instrument {kind} yet (instrumented_clients() = {instrumented_clients()})"
    return None


def _stock(variant: str) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    class Nothing(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ALWAYS_ON if variant == "stock_on" else ALWAYS_OFF)
    if variant == "stock_on":
        provider.add_span_processor(BatchSpanProcessor(Nothing()))
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)


#: ``run(count)``: make ``count`` requests the way the mode makes them.
Runner = Callable[[int], None]


def as_job(run: Runner, variant: str, pipeline: Any) -> Callable[[int, str], None]:
    """``work(count, job_id)``: ``run(count)``, inside a job span and up to its file on disk when ``on``."""
    def work(count: int, job_id: str) -> None:
        if variant != "on":
            run(count)
            return
        from batch_debug.instrumentation import job_span

        with job_span(job_id, items_total=-(-count // PER_ITEM)):
            run(count)
        pipeline.flush(60)

    return work


def small_jobs(work: Callable[[int, str], None]) -> Callable[[int, str], None]:
    """``work`` run as jobs of at most ``SMALL_JOB`` requests, one after another."""
    def jobs(count: int, job_id: str) -> None:
        for number, start in enumerate(range(0, count, SMALL_JOB)):
            work(min(SMALL_JOB, count - start), f"{job_id}-{number}")

    return jobs


def items_of(count: int) -> list[tuple[int, int]]:
    """``count`` requests as items: (first request's number, requests in the item)."""
    return [(start, min(PER_ITEM, count - start)) for start in range(0, count, PER_ITEM)]


def run_items(get: Callable[[], Any], variant: str, items: list[tuple[int, int]]) -> None:
    """Each item's calls to ``get``, in an ``item_span`` when ``on``."""
    if variant != "on":
        for _, size in items:
            for _ in range(size):
                get()
        return
    from batch_debug.instrumentation import item_span

    for start, size in items:
        with item_span(f"item-{start}"):
            for _ in range(size):
                get()


def sync_items(get: Callable[[], Any], variant: str) -> Runner:
    """The items one after another."""
    return lambda count: run_items(get, variant, items_of(count))


def threaded_items(get: Callable[[], Any], variant: str) -> Runner:
    """``THREADS`` threads sharing ``get`` (one client), the items dealt out among them, each thread
    in a copy of the caller's context (so, under ``on``, inside the job: a worker must do the same)."""
    def run(count: int) -> None:
        items = items_of(count)
        threads = [threading.Thread(target=contextvars.copy_context().run,
                                    args=(run_items, get, variant, items[i::THREADS])) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return run


def measure(work: Callable[[int, str], None], n: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``work(n)`` after a warm-up job."""
    work(WARMUP, "warmup")
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    work(n, "measured")
    return time.process_time() - start_cpu, time.perf_counter() - start_wall


def run_mode(mode: str, base: str, item: str, n: int, folder: str) -> dict[str, Any]:
    """Run one mode; its figures (or why it was skipped) as a dict."""
    kind, variant = split_mode(mode)
    if variant.startswith("on_"):  # a layers mode: "on" with one layer taken away
        take_away(variant.removeprefix("on_"))
        variant = "on"
    url = f"{base}/Items/{item}/Images/Primary"
    pipeline = None
    if variant in ("stock_off", "stock_on"):
        _stock(variant)
    elif variant in ("off", "on"):
        if variant == "on":
            os.environ["APHRODITE_BATCH_DEBUG"] = "true"
        from batch_debug.instrumentation import setup

        pipeline = setup(folder)
    skipped = why_skipped(kind, variant)
    if skipped:
        return {"mode": mode, "skipped": skipped}
    if kind in ("", "threads", "small", "layers"):
        import httpx

        with httpx.Client() as client:
            run = (threaded_items if kind == "threads" else sync_items)(lambda: client.get(url), variant)
            work = as_job(run, variant, pipeline)
            cpu, wall = measure(small_jobs(work) if kind == "small" else work, n)
    elif kind == "requests":
        import requests

        with requests.Session() as session:
            cpu, wall = measure(as_job(sync_items(lambda: session.get(url), variant), variant, pipeline), n)
    else:
        cpu, wall = asyncio.run(_async_kind(kind, variant, pipeline, url, n))
    return {"mode": mode, "n": n, "cpu_us": cpu / n * 1e6, "wall_us": wall / n * 1e6}


async def _async_kind(kind: str, variant: str, pipeline: Any, url: str, n: int) -> tuple[float, float]:
    """(CPU, wall) seconds of ``n`` awaited requests, one after another, on an async client opened here."""
    if kind == "async":
        import httpx

        async with httpx.AsyncClient() as client:
            return await _measure_async(client.get, url, variant, pipeline, n)
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async def get(target: str) -> bytes:
            async with session.get(target) as response:
                return await response.read()

        return await _measure_async(get, url, variant, pipeline, n)


async def _measure_async(get: Callable[[str], Awaitable[Any]], url: str, variant: str, pipeline: Any,
                         n: int) -> tuple[float, float]:
    async def work(count: int, job_id: str) -> None:
        if variant != "on":
            for _ in range(count):
                await get(url)
            return
        from batch_debug.instrumentation import item_span, job_span

        with job_span(job_id, items_total=-(-count // PER_ITEM)):
            done = 0
            while done < count:
                async with item_span(f"item-{done}"):
                    for _ in range(min(PER_ITEM, count - done)):
                        await get(url)
                        done += 1
        # The writer thread finishes the file; wait for it off the loop, as a worker would.
        await asyncio.to_thread(pipeline.flush, 60)

    await work(WARMUP, "warmup")
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    await work(n, "measured")
    return time.process_time() - start_cpu, time.perf_counter() - start_wall


def main() -> None:
    mode, base, item, n, folder = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    print(json.dumps(run_mode(mode, base, item, n, folder)))


if __name__ == "__main__":
    main()
