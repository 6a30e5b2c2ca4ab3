"""Where "debug on" spends its time: each step of the record-and-span path, per request, and the collector.

Usage: python benchmarks/breakdown.py [--requests N]

Not part of ``make bench`` (which judges ratios against the bare client);
this says what the ratio is made of, for whoever works on it next. It starts
the Jellyfin simulator, runs one recorded job of N requests (three an item,
as the scale benchmark does) through a real ``httpx.Client``, keeps its
finished spans with an in-memory exporter, then times each step the writer
thread takes for those same spans (CPU microseconds per request, median of 5,
the garbage collector running as in a job). Before that, a job of the same
size runs with ``gc.callbacks`` counting the collector's passes and their
time, per generation: a full (generation 2) pass walks the whole heap of the
process, so a job that keeps objects alive long enough to reach the oldest
generation makes the host pay for its heap again and again.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batch_debug.collector import attributes as A, document, records
from batch_debug.collector.item_columns import ItemColumns
from batch_debug.collector.jsontext import compact, compact_parts
from batch_debug.collector.openjob import BATCH_SIZE
from batch_debug.collector.request_columns import RequestColumns
from batch_debug.collector.span_encoding import resource_spans_text
from batch_debug.collector.span_records import drop_records
from batch_debug.collector.spool import slim_row
from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import setup

import scale  # sets APHRODITE_BATCH_DEBUG=true for this process, as its own job does
from benchlib import Simulator


def run_job(client: httpx.Client, url: str, count: int, job_id: str, pipeline: Any) -> None:
    """The scale benchmark's job (items of three requests), up to its file on disk."""
    scale.run_job(client, url, count, job_id)
    pipeline.flush(120)


def batches(values: list[Any]) -> list[list[Any]]:
    return [values[i:i + BATCH_SIZE] for i in range(0, len(values), BATCH_SIZE)]


def per_request(step: Callable[[], Any], requests: int, rounds: int = 5) -> float:
    """Median CPU microseconds per request of ``step()`` over ``rounds``."""
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.process_time()
        step()
        times.append((time.process_time() - start) / requests * 1e6)
    return statistics.median(times)


def collector_passes(run: Callable[[], None], requests: int) -> dict[int, tuple[int, float]]:
    """{generation: (passes, microseconds per request)} while ``run()`` runs."""
    found: dict[int, list[float]] = defaultdict(lambda: [0, 0.0])
    started = [0.0]

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            entry = found[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - started[0]

    gc.collect()
    gc.callbacks.append(count)
    try:
        run()
    finally:
        gc.callbacks.remove(count)
    return {gen: (int(n), seconds / requests * 1e6) for gen, (n, seconds) in sorted(found.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000, help="requests in the measured job (default 6000)")
    n = parser.parse_args().requests
    sim = Simulator.start()
    try:
        folder = Path(tempfile.mkdtemp(prefix="batch-debug-breakdown-"))
        switch = DebugSwitch(folder, environ={})
        switch.enable(60)
        pipeline = setup(folder, switch=switch)
        with httpx.Client() as client:
            run_job(client, sim.poster_url(), 300, "warm-up", pipeline)
            # First the collector, with nothing kept: the spans kept below would enlarge the heap it walks.
            passes = collector_passes(lambda: run_job(client, sim.poster_url(), n, "counted", pipeline), n)
            kept = InMemorySpanExporter()
            pipeline.provider.add_span_processor(SimpleSpanProcessor(kept))
            run_job(client, sim.poster_url(), n, "measured", pipeline)
            spans = list(kept.get_finished_spans())
            job = next(s for s in spans if A.JOB_ID in (s.attributes or {}))
    finally:
        sim.stop()
    attempts = [s for s in spans if records.is_request_span(s)]
    start_ns = job.start_time or 0
    made = [records.request_record(s, start_ns) for s in attempts]
    def by_column() -> RequestColumns:
        table = RequestColumns()
        for batch in batches(made):
            table.extend(map(slim_row, batch))
        return table

    table = by_column()
    slim = table.view()
    # As the spool keeps them: by column, their ids in the requests' code book.
    items = ItemColumns.of((records.item_record(s) for s in spans if records.is_item_span(s)), table.item_ids)
    span_batches = batches(spans)

    def encode(depth: int) -> None:
        # Batch by batch, each result dropped before the next, as the writer thread did with encode_spans.
        for batch in span_batches:
            encoded: Any = encode_spans(batch)
            if depth > 1:
                encoded = encoded.to_dict()["resourceSpans"]
                drop_records(encoded)  # the file keeps each record in requests only
            if depth > 2:
                compact(encoded)

    # Each batch with the records of its request spans, as the writer has them (the spans' file form, format 4).
    record_of = {int(r["span_id"], 16): r for r in made}
    batch_records = [[record_of[s.context.span_id] for s in batch if s.context.span_id in record_of]
                     for batch in span_batches]

    def by_span() -> None:
        for batch, batch_made in zip(span_batches, batch_records):
            resource_spans_text(batch, {int(r["span_id"], 16): r for r in batch_made})

    steps: dict[str, Callable[[], Any]] = {
        "records.request_record (span -> record)": lambda: [records.request_record(s, start_ns) for s in attempts],
        "slim_row + columns (what the summary keeps)": by_column,
        "records to JSON text (orjson)": lambda: [compact(b) for b in batches(made)],
        "(public) encode_spans (json-common objects)": lambda: encode(1),
        "(public)   + to_dict, less the records": lambda: encode(2),
        "(public)   + spans to JSON text (orjson)": lambda: encode(3),
        "spans to JSON text, a span at a time, slimmed": by_span,
        # The head's items are made as its JSON is: both are timed.
        "build_head (summary, findings) + its JSON": lambda: b"".join(compact_parts(document.build_head(
            "measured", job, slim, items, ended=True), "items")),
    }
    print(f"{n:,} requests, {len(spans):,} spans ({len(spans) / n:.2f} a request); "
          f"writer steps, CPU us per request (median of 5):")
    total = 0.0
    for name, step in steps.items():
        cost = per_request(step, n)
        print(f"  {name:<44} {cost:7.2f}")
        if not name.startswith("(public)"):  # the writer's way is the span at a time (span_encoding)
            total += cost
    print(f"  {'sum (the public rows left out)':<44} {total:7.2f}")
    print("garbage collector during a job of the same size before those (passes, us per request):")
    for gen, (count, cost) in passes.items():
        print(f"  generation {gen}: {count:5d} passes {cost:7.2f}")
    print(f"  objects the collector tracks now: {len(gc.get_objects()):,}")


if __name__ == "__main__":
    sys.exit(main())
