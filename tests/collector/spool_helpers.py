"""What the spool tests share: batches of spans with a note and a record, the job file written from them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batch_debug.collector import insert_range, spool, spool_files
from batch_debug.collector.spool import JobSpool

KEY = "c0ffee-key-2f8a9d"
LATE_KEY = "late-learned-key-77aa"
HEAD = {"format_version": 2, "job_id": "j", "summary": {"total_requests": 2}}

Batch = tuple[list[ReadableSpan], list[dict[str, Any]], tuple[str, ...]]


def spans_with_note(text: str) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("GET", attributes={"note": text}):
        pass
    provider.shutdown()
    return list(exporter.get_finished_spans())


def batches(texts: list[tuple[str, tuple[str, ...]]]) -> list[Batch]:
    return [(spans_with_note(text), [{"item_id": f"item-{n}", "status_code": 500, "error_body": text}], known)
            for n, (text, known) in enumerate(texts)]


def write_spooled(folder: Path, batches: list[Batch], secrets: tuple[str, ...], head: dict[str, Any] = HEAD) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    spool = JobSpool(folder)
    try:
        for spans, records, known in batches:
            spool.add(spans, records, known)
        path = spool.write_job_file("j", dict(head), secrets)
    finally:
        spool.close()
    assert [p.name for p in folder.iterdir()] == [path.name], "the spool's temporary files stay behind"
    return path.read_text(encoding="utf-8")


def notes(doc: dict[str, Any]) -> list[str]:
    return [a["value"]["stringValue"] for rs in doc["resourceSpans"] for ss in rs["scopeSpans"]
            for s in ss["spans"] for a in s["attributes"] if a["key"] == "note"]


def on_disk(monkeypatch) -> None:
    """Every batch to the spool files, and the job file built around them even when small."""
    monkeypatch.setattr(spool, "HOLD_BYTES", 0)
    monkeypatch.setattr(spool_files, "AROUND_MIN_BYTES", 0)


def inserts(monkeypatch, fail: int | None = None) -> list[int]:
    """Count the room inserted (or refuse it with ``fail``, an errno)."""
    calls: list[int] = []
    real = insert_range.insert_at_start

    def insert(fd: int, length: int) -> None:
        calls.append(length)
        if fail is not None:
            raise OSError(fail, os.strerror(fail))
        real(fd, length)

    monkeypatch.setattr(insert_range, "insert_at_start", insert)
    return calls
