"""Listing a folder's job files: by name, sizes read when asked for, names remembered while the folder is unchanged."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from batch_debug.collector import job_listing, jobfile

DAY = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _files(folder: Path, count: int) -> list[Path]:
    return [jobfile.write_atomic(folder, f"job-{n}", "x" * (n + 1), DAY + timedelta(minutes=n)) for n in range(count)]


def _settle(folder: Path) -> None:
    """The folder as if its last change were a minute ago."""
    past = time.time() - 60
    os.utime(folder, (past, past))


@pytest.fixture
def scans(monkeypatch) -> list[str]:
    """Each scan of a folder's entries (``os.scandir``) the listing makes."""
    made: list[str] = []
    real = os.scandir

    def counting(path):
        made.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(job_listing.os, "scandir", counting)
    return made


def test_a_settled_folder_is_listed_from_memory_until_it_changes(tmp_path: Path, scans: list[str]) -> None:
    paths = _files(tmp_path, 3)
    _settle(tmp_path)
    first = [info.path for info in jobfile.job_files(tmp_path)]
    assert first == paths[::-1] and len(scans) == 1
    assert [info.path for info in jobfile.job_files(tmp_path)] == first and len(scans) == 1
    assert jobfile.newest_for(tmp_path, "job-1") == paths[1] and len(scans) == 1
    newer = jobfile.write_atomic(tmp_path, "job-new", "{}", DAY + timedelta(days=1))  # the folder's time moves
    assert [info.path for info in jobfile.job_files(tmp_path)] == [newer, *first] and len(scans) == 2


def test_a_folder_changed_just_now_is_scanned_each_time(tmp_path: Path, scans: list[str]) -> None:
    """A change in the same tick of the file system's clock would not move its time: not trusted yet."""
    _files(tmp_path, 2)
    jobfile.job_files(tmp_path)
    jobfile.job_files(tmp_path)
    assert len(scans) == 2


def test_another_folder_at_the_same_place_and_time_is_listed_anew(tmp_path: Path, scans: list[str]) -> None:
    folder = tmp_path / "debug"
    folder.mkdir()
    _files(folder, 2)
    _settle(folder)
    stamp = os.stat(folder).st_mtime_ns
    assert len(jobfile.job_files(folder)) == 2
    folder.rename(tmp_path / "old")
    folder.mkdir()
    _files(folder, 1)
    os.utime(folder, ns=(stamp, stamp))
    assert len(jobfile.job_files(folder)) == 1 and len(scans) == 2


def test_a_page_reads_the_sizes_of_its_files_only(tmp_path: Path, monkeypatch) -> None:
    _files(tmp_path, 50)
    read: list[str] = []
    real = os.stat

    def counting(path, *args, **kwargs):
        if os.fspath(path).endswith(".json"):
            read.append(os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(job_listing.os, "stat", counting)
    files = jobfile.job_files(tmp_path)
    page = files[10:15]
    assert len(files) == 50 and [info.job_id for info in page] == [f"job-{n}" for n in range(39, 34, -1)]
    assert [info.size_bytes for info in page] == [40, 39, 38, 37, 36]
    assert len(read) == 5
    assert files[10] is page[0] and files[-1].job_id == "job-0" and len(read) == 6


def test_names_are_parsed_once_while_they_stay(tmp_path: Path, monkeypatch) -> None:
    _files(tmp_path, 4)
    (tmp_path / "notes.txt").write_text("x")
    parsed: list[str] = []
    real = job_listing._is_job_file_name  # noqa: SLF001

    def counting(name: str):
        parsed.append(name)
        return real(name)

    monkeypatch.setattr(job_listing, "_is_job_file_name", counting)
    jobfile.job_files(tmp_path)
    assert len(parsed) == 5
    jobfile.job_files(tmp_path)  # the folder is not settled: scanned again, only the unknown name parsed
    assert parsed[5:] == ["notes.txt"]


def test_the_sequence_and_the_list_agree_and_leave_out_what_is_no_job_file(tmp_path: Path) -> None:
    _files(tmp_path, 3)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "job_bad_20261301_000000.json").write_text("{}")  # month 13
    (tmp_path / "job_link_20260301_000000.json").symlink_to(tmp_path / "notes.txt")
    (tmp_path / "job_dir_20260301_000000.json").mkdir()
    listed = jobfile.list_job_files(tmp_path)
    assert [info.to_dict() for info in jobfile.job_files(tmp_path)] == [info.to_dict() for info in listed]
    assert [info.job_id for info in listed] == ["job-2", "job-1", "job-0"]
    assert jobfile.job_files_bytes(tmp_path) == 6  # the month-13 name is no file of ours: not counted either
    assert len(jobfile.job_files(tmp_path / "missing")) == 0 and jobfile.list_job_files(tmp_path / "missing") == []


def test_a_file_removed_after_the_listing(tmp_path: Path) -> None:
    first, second = _files(tmp_path, 2)
    files = jobfile.job_files(tmp_path)
    second.unlink()
    assert files[0].path == second and files[0].size_bytes == 0  # listed before it went: nothing to read
    assert [info.path for info in jobfile.list_job_files(tmp_path)] == [first]


def test_the_workers_quota_count_keeps_no_names(tmp_path: Path) -> None:
    """The quota counts in the batch job's own process: it remembers nothing (about 130 bytes a file)."""
    _files(tmp_path, 3)
    _settle(tmp_path)
    assert jobfile.job_files_bytes(tmp_path) == 6
    assert len(jobfile.job_files(tmp_path / "..", remember=False)) == 0
    assert os.path.abspath(tmp_path) not in job_listing._known  # noqa: SLF001
    jobfile.job_files(tmp_path)
    assert os.path.abspath(tmp_path) in job_listing._known  # noqa: SLF001


def test_a_changing_folder_is_listed_in_order_whatever_comes_and_goes(tmp_path: Path) -> None:
    """The order is carried over from the last listing (new files first, when newer); any mix of files added,
    older or newer than the rest, and removed gives what a fresh sort gives."""
    import random

    chance = random.Random(7)
    made: list[Path] = []
    for step in range(40):
        for _ in range(chance.randint(0, 3)):
            # Mostly newer than everything so far, as a job's own files are; sometimes older (another clock).
            minute = step * 10 + chance.randint(0, 9) if chance.random() < 0.8 else chance.randint(0, step * 10)
            made.append(jobfile.write_atomic(tmp_path, f"job-{chance.randint(0, 5)}", "{}",
                                             DAY + timedelta(minutes=minute, seconds=chance.randint(0, 59))))
        for _ in range(chance.randint(0, 2)):
            if made:
                made.pop(chance.randrange(len(made))).unlink()
        expected = sorted((p.name for p in made), key=lambda name: (name[-20:-5], name), reverse=True)
        assert [info.path.name for info in jobfile.job_files(tmp_path)] == expected, step
