"""A long job keeps nothing per request that Python's garbage collector tracks.

An object the collector tracks and a job keeps until its end is walked by
every full collection of the host's heap, and each one kept counts towards
setting off the next: a job that kept one per request (its summary record)
set off a full collection every few thousand requests. These tests count the
tracked objects in the middle of a job, after the writer has taken every
full batch, and the spans still waiting for the writer.
"""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
from opentelemetry.sdk.trace import ReadableSpan

from batch_debug.collector.openjob import BATCH_SIZE
from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import item_span, job_span
from batch_debug.instrumentation.pipeline import installed

ITEMS = 200
PER_ITEM = 3


def _tracked() -> int:
    gc.collect()
    return len(gc.get_objects())


def _waiting_spans() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, ReadableSpan))


def test_a_running_job_keeps_no_tracked_object_per_request(sim, debug_dir: Path) -> None:
    switch = DebugSwitch(debug_dir, environ={})
    switch.enable(5)
    url = f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary"
    with installed(debug_dir, switch=switch) as pipeline, httpx.Client() as client:
        with job_span("warm-up"), item_span("warm-up"):
            client.get(url)
        pipeline.flush(10)
        before, spans_before = _tracked(), _waiting_spans()
        with job_span("footprint", items_total=ITEMS):
            for n in range(ITEMS):
                with item_span(f"item-{n}"):
                    for _ in range(PER_ITEM):
                        client.get(url)
            pipeline.flush(10)  # every full batch is on disk: what is left is what the job keeps
            grown, waiting = _tracked() - before, _waiting_spans() - spans_before
        assert pipeline.job_file("footprint") is not None
    requests = ITEMS * PER_ITEM
    # Today: a few dozen objects in all (the job's own, and the batch not yet full); one per request
    # (a record class the collector tracks) would be 600 more.
    assert grown < requests // 4, f"{grown} more tracked objects after {requests} requests"
    # The job span is still open (a Span, not counted); the rest wait for a batch of BATCH_SIZE.
    assert waiting < BATCH_SIZE, f"{waiting} finished spans wait in memory"
