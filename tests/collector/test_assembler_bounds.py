"""What waits for a job span stays bounded whatever senders do: traces, file descriptors, time and disk.

Spans are made here as a sender elsewhere would make them (finished
``ReadableSpan``s of traces whose job span never comes) and fed to a real
:class:`JobAssembler` with a real :class:`JobFileWriter` on a real folder.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind

from batch_debug.collector import attributes as A
from batch_debug.collector import jobfile, spool
from batch_debug.collector.assembler import JobAssembler
from batch_debug.collector.openjob import BATCH_SIZE
from batch_debug.collector.writer import JobFileWriter

RESOURCE = Resource.create({"service.name": "elsewhere"})
SPANS_PER_TRACE = BATCH_SIZE + 8  # one batch is spooled to disk, the rest waits in memory
BASE_NS = 1_700_000_000_000_000_000


@pytest.fixture(autouse=True)
def spooled_to_disk(monkeypatch) -> None:
    """These tests are about what waiting traces take on disk: each spool writes its first batch out,
    where it would hold up to ``spool.HOLD_BYTES`` in memory (that case: ``test_spool``)."""
    monkeypatch.setattr(spool, "HOLD_BYTES", 0)


def _orphans(trace_id: int, count: int = SPANS_PER_TRACE) -> list[ReadableSpan]:
    """Children of a job span that has not come (and may never come)."""
    job = SpanContext(trace_id, 1, is_remote=True)
    return [ReadableSpan(f"step {n}", SpanContext(trace_id, n + 2, is_remote=False), parent=job,
                         attributes={"step": n}, kind=SpanKind.INTERNAL, resource=RESOURCE,
                         start_time=BASE_NS + n * 1000, end_time=BASE_NS + n * 1000 + 500)
            for n in range(count)]


def _job_span(trace_id: int, job_id: str) -> ReadableSpan:
    return ReadableSpan("batch job", SpanContext(trace_id, 1, is_remote=False), parent=None,
                        attributes={A.JOB_ID: job_id}, kind=SpanKind.INTERNAL, resource=RESOURCE,
                        start_time=BASE_NS - 1000, end_time=BASE_NS + 10**9)


def _descriptors_into(folder: Path) -> list[str]:
    """What this process holds open inside ``folder``."""
    inside = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed while we looked
        if target.startswith(f"{folder}{os.sep}"):
            inside.append(target)
    return inside


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(jobfile.TEMP_SUFFIX))


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_waiting_traces_are_capped_and_hold_no_file_descriptors(tmp_path: Path) -> None:
    folder = tmp_path / "debug"
    assembler = JobAssembler(JobFileWriter(folder), max_pending_traces=5, pending_timeout=600)
    try:
        for trace_id in range(1, 13):
            assembler.add(_orphans(trace_id))
        assert assembler.flush(30)
        assert assembler.pending() == 5
        assert assembler.dropped_traces == 7
        assert len(_temp_files(folder)) == 5 * 2  # each waiting trace spooled a batch; the dropped ones' are gone
        assert _descriptors_into(folder) == []
    finally:
        assembler.shutdown()
    assert _temp_files(folder) == []


def test_waiting_traces_hold_in_memory_only_up_to_the_writers_limit(tmp_path: Path, monkeypatch) -> None:
    """Each spool may hold its first batches in memory, all of them together no more than HELD_LIMIT: past
    it, a waiting trace's batch goes to disk, so a sender opening many traces cannot fill the sidecar's memory."""
    from batch_debug.collector import writer as writer_module

    monkeypatch.setattr(spool, "HOLD_BYTES", 1 << 20)
    one = spool.JobSpool(tmp_path / "measure")
    one.add(_orphans(99)[:BATCH_SIZE], [])
    monkeypatch.setattr(writer_module, "HELD_LIMIT", 3 * one.held - 1)  # three traces' first batches reach it
    one.close()
    folder = tmp_path / "debug"
    writer = JobFileWriter(folder)
    assembler = JobAssembler(writer, max_pending_traces=10, pending_timeout=600)
    try:
        for trace_id in range(1, 9):
            assembler.add(_orphans(trace_id))
        assert assembler.flush(30) and assembler.pending() == 8
        assert len(_temp_files(folder)) == (8 - 3) * 2  # the first three held theirs; the others' are on disk
        assert writer._held_total >= writer_module.HELD_LIMIT  # noqa: SLF001 - reached with the third
        for trace_id in range(1, 9):
            assembler.add([_job_span(trace_id, f"job-{trace_id}")])
        assert assembler.flush(30)
        assert len(jobfile.list_job_files(folder)) == 8 and _temp_files(folder) == []
        assert writer._held_total == 0  # noqa: SLF001
    finally:
        assembler.shutdown()


def test_the_least_recently_seen_trace_goes_first_and_stays_gone(tmp_path: Path) -> None:
    folder = tmp_path / "debug"
    assembler = JobAssembler(JobFileWriter(folder), max_pending_traces=2, pending_timeout=600)
    try:
        assembler.add(_orphans(1, 3))
        assembler.add(_orphans(2, 3))
        assembler.add(_orphans(1, 3)[:1])  # trace 1 is seen again: trace 2 is now the least recent
        assembler.add(_orphans(3, 3))
        assert assembler.pending() == 2 and assembler.dropped_traces == 1
        for trace_id in (1, 2, 3):
            assembler.add([_job_span(trace_id, f"job-{trace_id}")])
        assert assembler.flush(10)
        # A dropped trace's job span writes no file of half a job.
        assert sorted(info.job_id for info in jobfile.list_job_files(folder)) == ["job-1", "job-3"]
    finally:
        assembler.shutdown()


def test_stale_traces_are_swept_by_the_timer_when_no_span_arrives(tmp_path: Path) -> None:
    folder = tmp_path / "debug"
    assembler = JobAssembler(JobFileWriter(folder), max_pending_traces=5, pending_timeout=0.2,
                             sweep_interval=0.1)
    try:
        for trace_id in range(1, 9):
            assembler.add(_orphans(trace_id))
        # Nothing more arrives: only the timer can let them go.
        assert _within(10, lambda: assembler.pending() == 0)
        assert assembler.flush(10)
        assert assembler.dropped_traces == 8
        assert _temp_files(folder) == []
        assert _descriptors_into(folder) == []
        assert jobfile.list_job_files(folder) == []
    finally:
        assembler.shutdown()


def test_shutdown_stops_the_sweeper_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    assembler = JobAssembler(JobFileWriter(tmp_path / "debug"), sweep_interval=0.05)
    assembler.start()
    assembler.start()  # idempotent
    sweepers = [t for t in set(threading.enumerate()) - before if t.name == "batch-debug-sweeper"]
    assert len(sweepers) == 1 and sweepers[0].is_alive()
    assembler.shutdown()
    assert not sweepers[0].is_alive()


def _spool_size_of_one_trace(folder: Path) -> int:
    writer = JobFileWriter(folder)
    assembler = JobAssembler(writer, pending_timeout=600)
    assembler.add(_orphans(999))
    assert assembler.flush(10)
    size = writer.spool_bytes()
    assembler.shutdown()
    assert size > 0
    return size


def test_spools_alone_over_the_quota_drop_the_oldest_waiting_traces(tmp_path: Path) -> None:
    one = _spool_size_of_one_trace(tmp_path / "measure")
    folder = tmp_path / "debug"
    writer = JobFileWriter(folder, max_bytes=int(2.5 * one))
    assembler = JobAssembler(writer, pending_timeout=600)
    try:
        for trace_id in range(1, 7):
            assembler.add(_orphans(trace_id))
        assert assembler.flush(30)
        assert writer.spool_bytes() <= writer.max_bytes
        assert assembler.pending() == 2 and assembler.dropped_traces == 4
        assert len(_temp_files(folder)) == 2 * 2
        for trace_id in (1, 5, 6):
            assembler.add([_job_span(trace_id, f"job-{trace_id}")])
        assert assembler.flush(10)
        assert sorted(info.job_id for info in jobfile.list_job_files(folder)) == ["job-5", "job-6"]
    finally:
        assembler.shutdown()


def test_job_files_make_room_for_the_spools_of_waiting_traces(tmp_path: Path) -> None:
    folder = tmp_path / "debug"
    old = [jobfile.write_atomic(folder, f"old{n}", '{"summary": {}}' + " " * 4985,
                                datetime(2020, 1, 1, 0, 0, n, tzinfo=timezone.utc)) for n in range(3)]
    writer = JobFileWriter(folder)
    assembler = JobAssembler(writer, pending_timeout=600)
    try:
        assembler.add(_orphans(1))  # waits on disk for its job span
        assert assembler.flush(10)
        spooled = writer.spool_bytes()
        assert spooled > 0
        # Job files alone (15 KB and the next) fit easily; with the spool they do not.
        writer.max_bytes = spooled + 12_000
        assembler.add([*_orphans(2, 2), _job_span(2, "new")])
        assert assembler.flush(10)
        files = jobfile.list_job_files(folder)
        assert files[0].job_id == "new"
        assert not old[0].exists()
        assert sum(info.size_bytes for info in files) <= 12_000
        assert assembler.pending() == 1 and writer.spool_bytes() == spooled  # the waiting trace keeps its spool
    finally:
        assembler.shutdown()
