"""One benchmark client run, in its own process: prints CPU microseconds per request.

Usage: python benchmarks/client.py MODE URL ITEM_ID N DEBUG_DIR

MODE is one of bare, off, on, stock_off, stock_on. Each mode needs its own
process because httpx instrumentation is process-wide. CPU time is
``time.process_time`` (all threads of the process, so the background writer
counts), measured over N requests after a warm-up; for ``on`` the measured
span includes the job end and the job file being written.
"""

from __future__ import annotations

import json
import os
import sys
import time

import httpx

WARMUP = 200
PER_ITEM = 3  # requests per item, as in the reference worker


def _loop(client: httpx.Client, url: str, n: int) -> None:
    for _ in range(n):
        client.get(url)


def main() -> None:
    mode, base, item, n, folder = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    url = f"{base}/Items/{item}/Images/Primary"
    if mode in ("stock_off", "stock_on"):
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

        class Nothing(SpanExporter):
            def export(self, spans):  # type: ignore[no-untyped-def]
                return SpanExportResult.SUCCESS

        provider = TracerProvider(sampler=ALWAYS_ON if mode == "stock_on" else ALWAYS_OFF)
        if mode == "stock_on":
            provider.add_span_processor(BatchSpanProcessor(Nothing()))
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    if mode == "bare_imports":  # diagnostic: plain httpx in a process that has imported our stack
        import batch_debug.instrumentation  # noqa: F401
    if mode in ("off", "on"):
        if mode == "on":
            os.environ["APHRODITE_BATCH_DEBUG"] = "true"
        from batch_debug.instrumentation import item_span, job_span, setup

        pipeline = setup(folder)

        def work(client: httpx.Client, count: int, job_id: str) -> None:
            with job_span(job_id, items_total=count // PER_ITEM):
                done = 0
                while done < count:
                    with item_span(f"item-{done}"):
                        for _ in range(min(PER_ITEM, count - done)):
                            client.get(url)
                            done += 1
            if mode == "on":
                pipeline.flush(60)
    else:
        def work(client: httpx.Client, count: int, job_id: str) -> None:
            _loop(client, url, count)

    with httpx.Client() as client:
        work(client, WARMUP, "warmup")
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        work(client, n, "measured")
        cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
    print(json.dumps({"mode": mode, "n": n, "cpu_us": cpu / n * 1e6, "wall_us": wall / n * 1e6}))


if __name__ == "__main__":
    main()
