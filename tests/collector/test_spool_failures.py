"""The spool when the disk fails: no job file half made, no temporary file left, and what was held dropped
as a refused batch is, the file still valid."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from batch_debug.collector import spool, spool_files
from batch_debug.collector.spool import JobSpool
from spool_helpers import HEAD, batches as _batches, notes as _notes, on_disk as _on_disk


def test_a_full_disk_while_the_file_is_made_leaves_no_file_behind(tmp_path: Path, monkeypatch) -> None:
    # After the room was inserted (where the file system can) or during the copy (where not): the write
    # fails, and closing the spool removes every temporary file; no job file appears half made.
    _on_disk(monkeypatch)
    real = spool_files.copy_into

    def full(path: str, fd: int, *args: Any, **kwargs: Any) -> None:
        real(path, fd, *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spool_files, "copy_into", full)
    spool = JobSpool(tmp_path)
    for spans, records, known in _batches([("one", ()), ("two", ())]):
        spool.add(spans, records, known)
    with pytest.raises(OSError) as raised:
        spool.write_job_file("j", dict(HEAD), ())
    spool.close()
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_a_held_job_is_written_leaves_no_file_behind(tmp_path: Path, monkeypatch) -> None:
    real = spool_files.write_all
    calls = [0]

    def full_after_the_head(fd: int, data: Any) -> None:
        calls[0] += 1
        if calls[0] > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    monkeypatch.setattr(spool_files, "write_all", full_after_the_head)
    held = JobSpool(tmp_path)
    for spans, records, known in _batches([("one", ()), ("two", ())]):
        held.add(spans, records, known)
    with pytest.raises(OSError) as raised:
        held.write_job_file("j", dict(HEAD), ())
    held.close()
    assert raised.value.errno == errno.ENOSPC and calls[0] == 3
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("refused", "requests"), [
    ("both", ["kept", "after"]),
    # A request span leaves out what its record gives back: without its record it goes too.
    ("records", ["kept", "after"]),
    # A record without its span is still a request the job made (as before the spool held anything).
    ("spans", ["kept", "refused", "after"]),
])
def test_a_spill_the_disk_refuses_drops_what_was_held_and_the_file_stays_valid(tmp_path: Path, monkeypatch,
                                                                              refused: str,
                                                                              requests: list[str]) -> None:
    """As a batch the disk refused is dropped: the batches held with it go, and the next ones join cleanly."""
    monkeypatch.setattr(spool, "HOLD_BYTES", 0)
    real = spool_files.append
    refuse = [False]
    probe = JobSpool(tmp_path)

    def append(path: str, data: bytes) -> None:
        which = "records" if path == probe._records.path else "spans"  # noqa: SLF001
        if refuse[0] and refused in (which, "both"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(spool_files, "append", append)
    batches = _batches([("kept", ()), ("refused", ()), ("after", ())])
    probe.add(*batches[0])
    refuse[0] = True
    with pytest.raises(OSError):
        probe.add(*batches[1])
    refuse[0] = False
    probe.add(*batches[2])
    doc = json.loads(probe.write_job_file("j", dict(HEAD), ()).read_text(encoding="utf-8"))
    probe.close()
    assert [r["error_body"] for r in doc["requests"]] == requests
    assert _notes(doc) == ["kept", "after"]
