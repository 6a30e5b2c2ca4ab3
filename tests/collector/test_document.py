"""The job file's head (collector.document.build_head): its items in start order, with offsets and finals."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batch_debug.collector import document
from batch_debug.collector.spool import SlimRecord

KEY = "item-key-9f8e7d6c5b"


def _job_span() -> ReadableSpan:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("job"):
        pass
    provider.shutdown()
    return exporter.get_finished_spans()[0]


def test_items_come_in_start_order_with_their_offset_and_finals() -> None:
    job = _job_span()
    start = job.start_time or 0
    items = [
        {"item_id": "b", "outcome": "failed", "error": f"GET /Items/b?api_key={KEY} failed", "started_ns": start + 2_000_000},
        {"item_id": "a", "outcome": "succeeded", "error": None, "started_ns": start + 1_000_000, "thread": "t1"},
        {"item_id": "never-asked", "outcome": "succeeded", "error": None, "started_ns": start + 3_000_000},
    ]
    requests = [SlimRecord.of(r) for r in (
        {"item_id": "a", "status_code": 503, "start_offset_ms": 1.0, "duration_ms": 1.0, "error_body": "busy"},
        {"item_id": "b", "status_code": 404, "start_offset_ms": 2.5, "duration_ms": 1.0},
        {"item_id": "a", "status_code": 200, "start_offset_ms": 2.0, "duration_ms": 1.0},
    )]
    head = document.build_head("j", job, requests, items, ended=True, secrets=(KEY,))
    got = head["items"]
    assert [i["item_id"] for i in got] == ["a", "b", "never-asked"]
    assert list(got[0]) == ["item_id", "outcome", "error", "thread", "start_offset_ms", "attempts", "final_status"]
    assert [(i["start_offset_ms"], i["attempts"], i["final_status"]) for i in got] == [
        (1.0, 2, 200), (2.0, 1, 404), (3.0, 0, None)]
    assert all("started_ns" not in i for i in got)
    assert KEY not in got[1]["error"] and "[REDACTED]" in got[1]["error"]
