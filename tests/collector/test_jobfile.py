"""Job file names, atomic writes, listing and cleanup."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from batch_debug.collector import atomic, jobfile, retention
from batch_debug.collector.switch import STATE_FILENAME


@pytest.mark.parametrize("job_id", ["job-1", "A.b_c-9", "x" * 128])
def test_valid_job_ids(job_id: str) -> None:
    assert jobfile.validate_job_id(job_id) == job_id


@pytest.mark.parametrize("job_id", ["", "a/b", "..", "a..b", "../etc", "x" * 129, "a b", "a\x00b", 7, None])
def test_invalid_job_ids_are_rejected_with_a_sentence(job_id: object) -> None:
    with pytest.raises(ValueError, match="invalid job id"):
        jobfile.validate_job_id(job_id)


def test_write_atomic_names_file_and_never_overwrites(tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    first = jobfile.write_atomic(tmp_path, "j1", '{"summary": {}}', when)
    second = jobfile.write_atomic(tmp_path, "j1", '{"summary": {"n": 2}}', when)
    assert first.name == "job_j1_20260102_030405.json"
    assert second.name == "job_j1_20260102_030406.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name, second.name]


def test_list_newest_first_and_newest_for(tmp_path: Path) -> None:
    for second in (1, 3, 2):
        jobfile.write_atomic(tmp_path, "j", "{}", datetime(2026, 1, 1, 0, 0, second, tzinfo=timezone.utc))
    jobfile.write_atomic(tmp_path, "other", "{}", datetime(2026, 1, 1, 0, 0, 9, tzinfo=timezone.utc))
    (tmp_path / "notes.txt").write_text("x")
    names = [info.path.name for info in jobfile.list_job_files(tmp_path)]
    assert names == ["job_other_20260101_000009.json", "job_j_20260101_000003.json",
                     "job_j_20260101_000002.json", "job_j_20260101_000001.json"]
    assert jobfile.newest_for(tmp_path, "j").name == "job_j_20260101_000003.json"
    assert jobfile.newest_for(tmp_path, "missing") is None


@given(st.from_regex(r"\A[0-9]{8}_[0-9]{6}\Z"))
def test_a_name_stamp_reads_as_strptime_reads_it(stamp: str) -> None:
    try:
        expected = datetime.strptime(stamp, jobfile.STAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        with pytest.raises(ValueError):
            jobfile.stamp_time(stamp)
        return
    assert jobfile.stamp_time(stamp) == expected


def test_a_name_shaped_like_ours_without_a_date_is_no_job_file(tmp_path: Path) -> None:
    good = jobfile.write_atomic(tmp_path, "j", "{}", datetime(2026, 1, 1, tzinfo=timezone.utc))
    for stamp in ("20261301_000000", "20260230_000000", "20260101_246060", "00000101_000000", "2026\u0661101_000000"):
        (tmp_path / f"job_j_{stamp}.json").write_text("{}")
    assert [info.path for info in jobfile.list_job_files(tmp_path)] == [good]


def test_job_files_bytes_counts_what_the_listing_lists(tmp_path: Path) -> None:
    for n, size in enumerate((10, 200, 3000)):
        jobfile.write_atomic(tmp_path, f"j{n}", "x" * size, datetime(2026, 1, 1, 0, 0, n, tzinfo=timezone.utc))
    (tmp_path / "notes.txt").write_text("x" * 50)
    (tmp_path / "job_linked_20260101_000009.json").symlink_to(tmp_path / "notes.txt")
    (tmp_path / "job_dir_20260101_000009.json").mkdir()
    assert jobfile.job_files_bytes(tmp_path) == sum(i.size_bytes for i in jobfile.list_job_files(tmp_path)) == 3210
    assert jobfile.job_files_bytes(tmp_path / "missing") == 0


def test_quota_reads_the_sizes_of_what_it_deletes_only(tmp_path: Path, monkeypatch) -> None:
    """Under the quota nothing is listed; over it, the files are found by name and only those deleted are
    read, oldest first, down to ``down_to``."""
    from batch_debug.collector import job_listing

    paths = [jobfile.write_atomic(tmp_path, f"j{n}", "x" * 100, datetime(2026, 1, 1, 0, 0, n, tzinfo=timezone.utc))
             for n in range(5)]
    read: list[str] = []
    real = os.stat

    def counting(path, *args, **kwargs):
        if os.fspath(path).endswith(".json"):
            read.append(os.path.basename(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(job_listing.os, "stat", counting)
    assert retention.enforce_quota(tmp_path, 500, total=500) == [] and read == []
    assert retention.enforce_quota(tmp_path, 450, total=500, down_to=250) == paths[:3]
    assert read == [p.name for p in paths[:3]]
    assert retention.enforce_quota(tmp_path, 150) == paths[3:4]  # counted itself (every file read), no down_to
    assert [p.exists() for p in paths] == [False, False, False, False, True]


@pytest.mark.parametrize("content,message", [("{trunc", "damaged or truncated"), ("[1]", "not a batch-debug")])
def test_load_gives_a_clear_error_for_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "job_x_20260101_000000.json"
    path.write_text(content)
    with pytest.raises(jobfile.JobFileError, match=message):
        jobfile.load(path)


def test_cleanup_deletes_only_old_job_files(tmp_path: Path) -> None:
    old = jobfile.write_atomic(tmp_path, "old", "x" * 100, datetime(2020, 1, 1, tzinfo=timezone.utc))
    new = jobfile.write_atomic(tmp_path, "new", "y" * 10)
    (tmp_path / STATE_FILENAME).write_text("{}")
    (tmp_path / "job_notes.txt").write_text("keep")
    assert retention.cleanup(tmp_path, 7) == (1, 100)
    assert not old.exists() and new.exists()
    assert retention.cleanup(tmp_path, 0) == (1, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILENAME, "job_notes.txt"]


@pytest.mark.parametrize("days", [-1, "7", 1.5, True])
def test_cleanup_rejects_bad_days(tmp_path: Path, days: object) -> None:
    with pytest.raises(ValueError, match="days must be"):
        retention.cleanup(tmp_path, days)  # type: ignore[arg-type]


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    of_dead_writer = tmp_path / f".job-{dead}-abc.tmp"
    of_live_writer = tmp_path / f".job-{os.getpid()}-def.tmp"
    old_unnamed = tmp_path / ".job-xyz.tmp"
    new_unnamed = tmp_path / ".job-uvw.tmp"
    for path in (of_dead_writer, of_live_writer, old_unnamed, new_unnamed):
        path.write_text("half")
    os.utime(old_unnamed, (0, 0))
    assert retention.remove_stale_temp_files(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([of_live_writer.name, new_unnamed.name])


def test_load_head_reads_the_head_of_a_streamed_file(tmp_path: Path) -> None:
    text = '{"job_id":"h","summary":{"total_requests":2},"items":[],"requests":[{"a":1},{"a":2}],"resourceSpans":[]}'
    path = jobfile.write_atomic(tmp_path, "h", text)
    assert jobfile.load_head(path) == {"job_id": "h", "summary": {"total_requests": 2}, "items": []}


def test_load_head_falls_back_to_the_whole_file(tmp_path: Path) -> None:
    path = jobfile.write_atomic(tmp_path, "h", '{"requests": [], "summary": {"n": 1}}')
    assert jobfile.load_head(path) == {"summary": {"n": 1}}
    broken = jobfile.write_atomic(tmp_path, "b", '{"summary": {"n": 1, "recommen')
    with pytest.raises(jobfile.JobFileError, match="damaged or truncated"):
        jobfile.load_head(broken)


# -- atomic: the one way a whole file is put in place ---------------------------------------------------------
def test_replace_overwrites_with_the_configured_mode_and_leaves_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_FILE_MODE", "0640")
    old_umask = os.umask(0o022)
    try:
        target = tmp_path / "state.json"
        target.write_text("old")
        os.chmod(target, 0o600)
        atomic.replace(target, "new", kind="state")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")

    def half_then_fail(handle) -> None:
        handle.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.replace(target, half_then_fail, kind="state")
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):  # the rename itself fails: a folder has the name
        atomic.replace(tmp_path / "taken", "x", kind="state")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "taken"]


def test_replace_in_a_folder_opened_by_descriptor(tmp_path: Path) -> None:
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        atomic.replace("report.json", "{}", kind="health", mode=0o600, dir_fd=folder)
        atomic.replace("report.json", '{"n": 2}', kind="health", mode=0o600, dir_fd=folder)
    finally:
        os.close(folder)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert (tmp_path / "report.json").read_text() == '{"n": 2}'
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o600


def test_temporary_names_carry_the_writer_pid(tmp_path: Path) -> None:
    fd, path = atomic.temp_file(tmp_path, "progress")
    os.close(fd)
    assert atomic.temp_pid(Path(path).name) == os.getpid()
    assert atomic.temp_pid("job_x_20260101_000000.json") is None


def test_job_files_and_state_are_fsynced_and_live_progress_is_not(tmp_path: Path, monkeypatch) -> None:
    """A progress report lives only while its job runs: waiting on the disk for each one bought nothing."""
    from batch_debug.collector import progress

    synced: list[str] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    report = progress.JobProgress("live", items_total=3)
    progress.publish(tmp_path, report)
    assert synced == []
    assert [a["job_id"] for a in progress.read_active(tmp_path)] == ["live"]
    jobfile.write_atomic(tmp_path, "done", "{}", datetime(2026, 1, 1, tzinfo=timezone.utc))
    atomic.replace(tmp_path / STATE_FILENAME, "{}", kind="state")
    assert len(synced) == 2 and all(Path(p).parent == tmp_path for p in synced)


def test_a_progress_file_left_empty_goes_once_stale(tmp_path: Path) -> None:
    """An unsynced report a machine crash emptied is no job: skipped, and removed once as old as a stale one."""
    from batch_debug.collector import progress

    folder = tmp_path / progress.ACTIVE_DIRNAME
    folder.mkdir()
    fresh, old = folder / "fresh.123.json", folder / "old.123.json"
    fresh.write_text("")
    old.write_text("{")
    long_ago = os.stat(old).st_mtime - progress.STALE_SECONDS - 1
    os.utime(old, (long_ago, long_ago))
    assert progress.read_active(tmp_path) == []
    assert fresh.exists() and not old.exists()
