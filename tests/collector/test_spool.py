"""The spool's job file: head, requests and spans joined, each secret scrubbed, with the kernel's copy when it can.

A secret a batch was spooled without (the instrumentation learned it later)
must be gone from the whole file; secrets every batch was scrubbed of need
no second pass, and the spool files are then copied by the kernel
(``os.copy_file_range``), or by a read-and-write loop where it cannot.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batch_debug.collector import spool as spool_module
from batch_debug.collector.redact import REDACTED
from batch_debug.collector.spool import JobSpool, copy_into

KEY = "c0ffee-key-2f8a9d"
LATE_KEY = "late-learned-key-77aa"
HEAD = {"format_version": 2, "job_id": "j", "summary": {"total_requests": 2}}


def _spans(text: str) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("GET", attributes={"note": text}):
        pass
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _record(n: int, text: str) -> dict[str, Any]:
    return {"item_id": f"item-{n}", "attempt": 1, "status_code": 500, "error_body": text, "start_offset_ms": n}


def _write(tmp_path: Path, batches: list[tuple[str, tuple[str, ...]]], secrets: tuple[str, ...]) -> tuple[str, Any]:
    spool = JobSpool(tmp_path)
    try:
        for n, (text, known) in enumerate(batches):
            spool.add(_spans(text), [_record(n, text)], known)
        path = spool.write_job_file("j", dict(HEAD), secrets)
    finally:
        spool.close()
    raw = path.read_text(encoding="utf-8")
    return raw, json.loads(raw)


def test_a_secret_learned_after_a_batch_is_scrubbed_from_the_whole_file(tmp_path: Path) -> None:
    batches = [(f"refused: {LATE_KEY} ünïcode", (KEY,)), (f"also {KEY} and {LATE_KEY}", (KEY, LATE_KEY))]
    raw, doc = _write(tmp_path, batches, (KEY, LATE_KEY))
    assert LATE_KEY not in raw and KEY not in raw
    assert [r["error_body"] for r in doc["requests"]] == [f"refused: {REDACTED} ünïcode",
                                                         f"also {REDACTED} and {REDACTED}"]
    notes = [a["value"]["stringValue"] for rs in doc["resourceSpans"] for ss in rs["scopeSpans"]
             for s in ss["spans"] for a in s["attributes"] if a["key"] == "note"]
    assert notes == [f"refused: {REDACTED} ünïcode", f"also {REDACTED} and {REDACTED}"]
    assert doc["job_id"] == "j" and doc["summary"] == HEAD["summary"]


def test_secrets_every_batch_was_scrubbed_of_are_copied_by_the_kernel(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = os.copy_file_range

    def counted(src: int, dst: int, count: int) -> int:
        calls.append(count)
        return real(src, dst, count)

    monkeypatch.setattr(spool_module.os, "copy_file_range", counted)
    raw, doc = _write(tmp_path, [(f"first {KEY}", (KEY,)), (f"second {KEY}", (KEY,))], (KEY,))
    assert KEY not in raw
    assert [r["error_body"] for r in doc["requests"]] == [f"first {REDACTED}", f"second {REDACTED}"]
    assert calls, "the spool files were not handed to the kernel"


@pytest.mark.parametrize("failure", [errno.EXDEV, errno.ENOSYS, errno.EINVAL])
def test_where_the_kernel_cannot_copy_a_loop_goes_on_from_where_it_stopped(tmp_path: Path, monkeypatch,
                                                                          failure: int) -> None:
    real = os.copy_file_range
    calls = [0]

    def part_then_fail(src: int, dst: int, count: int) -> int:
        calls[0] += 1
        if calls[0] == 1:
            return real(src, dst, 7)  # a few bytes, then the error
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(spool_module.os, "copy_file_range", part_then_fail)
    source, target = tmp_path / "in", tmp_path / "out"
    body = "".join(f"{n}:ünïcode," for n in range(5000)).encode("utf-8")
    source.write_bytes(body)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b"HEAD")
        copy_into(str(source), fd, chunk=1000)
        os.write(fd, b"TAIL")
    finally:
        os.close(fd)
    assert calls[0] == 2
    assert target.read_bytes() == b"HEAD" + body + b"TAIL"


@settings(max_examples=60, deadline=None)
@given(before=st.text(max_size=40), between=st.text(max_size=40), after=st.text(max_size=40),
       chunk=st.integers(min_value=1, max_value=24))
def test_a_secret_is_replaced_wherever_the_chunk_borders_fall(tmp_path_factory, before: str, between: str,
                                                             after: str, chunk: int) -> None:
    text = f"{before}{KEY}{between}{LATE_KEY}{after}{KEY}"
    folder = tmp_path_factory.mktemp("copy")
    source, target = folder / "in", folder / "out"
    source.write_bytes(text.encode("utf-8"))
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        copy_into(str(source), fd, [KEY, LATE_KEY], chunk=chunk)
    finally:
        os.close(fd)
    assert target.read_bytes().decode("utf-8") == text.replace(KEY, REDACTED).replace(LATE_KEY, REDACTED)
