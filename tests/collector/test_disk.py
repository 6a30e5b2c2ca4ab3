"""Disk trouble never fails the batch job: unwritable or full folders, and the quota."""

from __future__ import annotations

import logging
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from batch_debug.collector import health, jobfile, retention
from batch_debug.collector.switch import DebugSwitch
from batch_debug.collector.writer import JobFileWriter
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT as FAST



def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("batch_debug")]


def test_unwritable_folder_never_fails_the_job(tmp_path: Path, make_sim, recorded_spans,
                                               caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the debug folder should be")
    switch = DebugSwitch(blocked, environ={"APHRODITE_BATCH_DEBUG": "true"})
    pipeline = setup(blocked, switch=switch)
    sim = make_sim("mixed", seed=4)
    with caplog.at_level(logging.INFO):
        first = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:10], "blocked-1")
        second = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:10], "blocked-2")
        pipeline.flush(10)
    assert len(first.items) == len(second.items) == 10
    assert first.job_file is None and second.job_file is None
    errors = _errors_logged(caplog)
    assert len(errors) == 1 and "cannot write to" in errors[0]
    reports = health.read_reports(blocked)
    assert [(r["pid"], r["failing"]) for r in reports] == [(os.getpid(), True)]
    assert reports[0]["errors"] >= 2


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 256 KB tmpfs: a real full disk."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_never_fails_the_job_and_is_logged_once(tiny_disk: Path, make_sim, recorded_spans,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    folder = tiny_disk / "debug"
    switch = DebugSwitch(folder, environ={"APHRODITE_BATCH_DEBUG": "true"})
    pipeline = setup(folder, switch=switch)
    sim = make_sim("healthy")
    with caplog.at_level(logging.INFO):
        results = [run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:60], f"full-{n}")
                   for n in range(4)]
        pipeline.flush(10)
    assert [r.succeeded for r in results] == [60, 60, 60, 60]
    assert any(r.job_file is None for r in results)
    # Once per streak: an error opens a streak, "works again" closes it, and nothing repeats in between
    # (how many streaks there are depends on which writes happen to fit the 256 KB disk).
    streaks = [r.levelno for r in caplog.records if r.name == "batch_debug.collector.health"]
    assert streaks and streaks[0] == logging.ERROR
    assert all(a != b for a, b in zip(streaks, streaks[1:])), streaks
    assert len(_errors_logged(caplog)) == streaks.count(logging.ERROR)
    assert health.read_reports(folder)[0]["errors"] >= streaks.count(logging.ERROR)
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


def test_quota_removes_the_oldest_job_files_first(tmp_path: Path) -> None:
    stamps = [datetime(2026, 1, 1, 0, 0, s, tzinfo=timezone.utc) for s in range(5)]
    paths = [jobfile.write_atomic(tmp_path, f"j{i}", "x" * 1000, stamp) for i, stamp in enumerate(stamps)]
    removed = retention.enforce_quota(tmp_path, 2500, keep=paths[-1])
    assert removed == paths[:3]
    assert [p.exists() for p in paths] == [False, False, False, True, True]


def test_quota_never_removes_the_file_just_written(tmp_path: Path) -> None:
    old = jobfile.write_atomic(tmp_path, "old", "x" * 10, datetime(2026, 1, 1, tzinfo=timezone.utc))
    big = jobfile.write_atomic(tmp_path, "big", "x" * 5000, datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert retention.enforce_quota(tmp_path, 100, keep=big) == [old]
    assert big.exists()


def test_writer_applies_the_quota_after_each_job(debug_dir: Path, make_sim, recorded_spans) -> None:
    pipeline = setup(debug_dir, switch=DebugSwitch(debug_dir, environ={"APHRODITE_BATCH_DEBUG": "true"}))
    sim = make_sim("healthy")
    saved = pipeline.writer.max_bytes
    pipeline.writer.max_bytes = 30_000
    try:
        for n in range(6):
            run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:5], f"q{n}")
    finally:
        pipeline.writer.max_bytes = saved
    files = jobfile.list_job_files(debug_dir)
    assert sum(f.size_bytes for f in files) <= 30_000 or len(files) == 1
    assert files[0].job_id == "q5"
    assert len(files) < 6


def test_folder_bytes_counts_every_few_seconds_and_its_own_files_at_once(tmp_path: Path, monkeypatch) -> None:
    """The quota check after each job reads the folder only every RECOUNT_SECONDS, or when it might be over."""
    now = [100.0]
    counted = retention.FolderBytes(clock=lambda: now[0])
    reads: list[Path] = []
    real = retention.job_files_bytes
    monkeypatch.setattr(retention, "job_files_bytes", lambda folder: reads.append(folder) or real(folder))
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    jobfile.write_atomic(tmp_path, "a", "x" * 100, stamp)
    assert not counted.over(tmp_path, 150) and len(reads) == 1
    mine = jobfile.write_atomic(tmp_path, "mine", "x" * 40, stamp)
    counted.added(tmp_path, mine.stat().st_size)
    assert not counted.over(tmp_path, 150) and len(reads) == 1  # 140: its own file counted without a read
    jobfile.write_atomic(tmp_path, "theirs", "x" * 30, stamp)  # another process's: not seen yet
    assert not counted.over(tmp_path, 150) and len(reads) == 1
    now[0] += retention.RECOUNT_SECONDS
    assert counted.over(tmp_path, 150) and len(reads) == 2  # 170, read again once the count is old
    assert counted.over(tmp_path, 150) and len(reads) == 3  # over: read again before anything is removed
    other = tmp_path / "other"
    other.mkdir()
    assert not counted.over(other, 0) and reads[-1] == other  # another folder: its own count
    counted.forget()
    assert not counted.over(other, 0) and len(reads) == 5


def test_the_quota_sees_another_writers_files_within_the_recount_time(debug_dir: Path, monkeypatch) -> None:
    """Files another process wrote into the folder count against the quota once the count is old."""
    now = [0.0]
    monkeypatch.setattr(retention.time, "monotonic", lambda: now[0])
    writer = JobFileWriter(debug_dir, max_bytes=1_000)
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = jobfile.write_atomic(debug_dir, "first", "x" * 600, stamp)
    writer._apply_quota()  # noqa: SLF001 - the check the writer makes after each job
    theirs = jobfile.write_atomic(debug_dir, "theirs", "x" * 600, datetime(2026, 1, 2, tzinfo=timezone.utc))
    writer._apply_quota()  # noqa: SLF001
    assert first.exists()
    now[0] += retention.RECOUNT_SECONDS
    writer._apply_quota()  # noqa: SLF001
    assert not first.exists() and theirs.exists()


def test_over_the_quota_the_writer_makes_room_for_the_next_files(debug_dir: Path) -> None:
    """Down to QUOTA_DOWN_TO of it: the next files fit without a deletion (and a count) after every job."""
    from batch_debug.collector import writer as writer_module

    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    paths = [jobfile.write_atomic(debug_dir, f"j{n:02d}", "x" * 100, stamp.replace(minute=n)) for n in range(12)]
    writer = JobFileWriter(debug_dir, max_bytes=1000)
    writer._apply_quota(keep=paths[-1])  # noqa: SLF001
    kept = [p for p in paths if p.exists()]
    assert kept == paths[3:] and sum(p.stat().st_size for p in kept) <= 1000 * writer_module.QUOTA_DOWN_TO
    newer = jobfile.write_atomic(debug_dir, "next", "x" * 100, stamp.replace(hour=1))
    writer._job_bytes.added(debug_dir, newer.stat().st_size)  # noqa: SLF001 - as write() does
    writer._apply_quota(keep=newer)  # noqa: SLF001
    assert all(p.exists() for p in kept) and newer.exists()
