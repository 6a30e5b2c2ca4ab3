"""The spool's job file: head, requests and spans joined, each secret scrubbed, without copying what it need not.

A secret a batch was spooled without (the instrumentation learned it later)
must be gone from the whole file. A small job's texts are held in memory and
its file written from there; a bigger one's go to temporary files, and its
job file is built around the spans' own spool file where the file system can
insert room at its start (``insert_range``), else the spool files are copied
by the kernel (``os.sendfile``), or by a read-and-write loop where it cannot.
Every way gives the same document.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from batch_debug.collector import atomic, insert_range, spool, spool_files
from batch_debug.collector.redact import REDACTED
from batch_debug.collector.spool import JobSpool
from batch_debug.collector.spool_files import copy_into
from spool_helpers import (HEAD, KEY, LATE_KEY, batches as _batches, inserts as _inserts, notes as _notes,
                           on_disk as _on_disk, write_spooled as _write)

@pytest.mark.parametrize("held", [True, False])
def test_a_secret_learned_after_a_batch_is_scrubbed_from_the_whole_file(tmp_path: Path, monkeypatch,
                                                                       held: bool) -> None:
    if not held:
        _on_disk(monkeypatch)
    inserted = _inserts(monkeypatch)
    batches = _batches([(f"refused: {LATE_KEY} ünïcode", (KEY,)), (f"also {KEY} and {LATE_KEY}", (KEY, LATE_KEY))])
    raw = _write(tmp_path, batches, (KEY, LATE_KEY))
    doc = json.loads(raw)
    assert LATE_KEY not in raw and KEY not in raw
    expected = [f"refused: {REDACTED} ünïcode", f"also {REDACTED} and {REDACTED}"]
    assert [r["error_body"] for r in doc["requests"]] == expected
    assert _notes(doc) == expected
    assert doc["job_id"] == "j" and doc["summary"] == HEAD["summary"]
    assert inserted == [], "a file that needs scrubbing again is copied, not built around the spool file"


def test_a_small_job_makes_one_file_written_from_memory(tmp_path: Path, monkeypatch) -> None:
    """No spool files, no head file: the job file's own temporary name is the only file made."""
    inserted = _inserts(monkeypatch)
    made: list[str] = []
    real = atomic.temp_file
    monkeypatch.setattr(atomic, "temp_file", lambda *a, **k: made.append("temp") or real(*a, **k))
    raw = _write(tmp_path, _batches([("one", ()), ("two", ())]), ())
    assert inserted == [] and "  " not in raw and [r["error_body"] for r in json.loads(raw)["requests"]] == [
        "one", "two"]
    assert made == ["temp"]


def test_past_the_held_bytes_the_spool_spills_and_the_document_is_the_same(tmp_path: Path, monkeypatch) -> None:
    batches = _batches([(f"batch {n}", ()) for n in range(6)])
    held = _write(tmp_path / "held", batches, ())
    one = JobSpool(tmp_path / "measure")
    one.add(*batches[0])
    monkeypatch.setattr(spool, "HOLD_BYTES", 2 * one.bytes + 10)  # the third batch spills the first three
    one.close()
    probe = JobSpool(tmp_path / "spilled")
    sizes = []
    for spans, records, known in batches:
        probe.add(spans, records, known)
        sizes.append((probe.bytes, len(list((tmp_path / "spilled").glob("*.tmp"))) if (tmp_path / "spilled").exists()
                      else 0))
    assert [files for _, files in sizes] == [0, 0, 2, 2, 2, 2]
    path = probe.write_job_file("j", dict(HEAD), ())
    probe.close()
    spilled = path.read_text(encoding="utf-8")
    assert spilled == held
    doc = json.loads(spilled)
    assert sizes[-1][0] == len(spilled.split(',"requests":[', 1)[1]) - len('],"resourceSpans":[') - len("]}")
    assert [r["error_body"] for r in doc["requests"]] == [f"batch {n}" for n in range(6)] == _notes(doc)


def test_every_way_of_making_the_file_gives_the_same_document(tmp_path: Path, monkeypatch) -> None:
    batches = _batches([(f"first {KEY}", (KEY,)), (f"second {KEY}", (KEY,)), ("third ünïcode", (KEY,))])
    held = _write(tmp_path / "held", batches, (KEY,))
    _on_disk(monkeypatch)  # small spools are held, and small spool files copied: not these
    can_insert = insert_range.works_in(tmp_path)
    inserted = _inserts(monkeypatch)
    around = _write(tmp_path / "around", batches, (KEY,))
    refused = _inserts(monkeypatch, fail=errno.EOPNOTSUPP)
    copied = _write(tmp_path / "copied", batches, (KEY,))
    assert refused, "the copy was not the fallback"
    monkeypatch.setattr(spool_files.os, "sendfile", _refuse)
    looped = _write(tmp_path / "looped", batches, (KEY,))
    assert json.loads(around) == json.loads(copied) == json.loads(looped)
    assert held == copied == looped and KEY not in around
    assert [r["error_body"] for r in json.loads(copied)["requests"]] == [f"first {REDACTED}", f"second {REDACTED}",
                                                                        "third ünïcode"]
    if can_insert:
        assert len(inserted) == 1 and around != copied  # built around the spool file: padded with spaces
        assert around.replace(" ", "") == copied.replace(" ", "")
    else:
        assert inserted and around == copied  # the file system refused: copied


def test_a_head_of_many_items_is_written_in_parts_alike_every_way(tmp_path: Path, monkeypatch) -> None:
    # Past a few thousand items the head's JSON is made a chunk of items at a time (jsontext.compact_parts).
    items = [{"item_id": f"item-{n}", "outcome": "failed" if n % 7 else "succeeded", "error": None}
             for n in range(10_000)]
    batches = _batches([("only", ())])
    held = json.loads(_write(tmp_path / "held", batches, (), {**HEAD, "items": list(items)}))
    _on_disk(monkeypatch)
    around = json.loads(_write(tmp_path / "around", batches, (), {**HEAD, "items": list(items)}))
    _inserts(monkeypatch, fail=errno.EOPNOTSUPP)
    copied = json.loads(_write(tmp_path / "copied", batches, (), {**HEAD, "items": list(items)}))
    assert around == copied == held
    assert around["items"] == items and around["summary"] == HEAD["summary"]
    assert [r["error_body"] for r in around["requests"]] == ["only"]


def _refuse(*_: Any) -> int:
    raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))


@pytest.mark.parametrize("over", [0, 1, 2, 4095, 4096, 4097])
def test_room_on_either_side_of_a_block_border_gives_valid_json(tmp_path: Path, monkeypatch, over: int) -> None:
    _on_disk(monkeypatch)
    # The room is the head, the records and the text between, rounded up to a block with spaces.
    batches = _batches([("one", ()), ("two", ())])
    probe = _write(tmp_path / "probe", batches, (), {**HEAD, "fill": ""})
    used = probe.index(',"resourceSpans":[') + len(',"resourceSpans":[')
    head = {**HEAD, "fill": "f" * ((4096 - used + over) % 8192)}
    raw = _write(tmp_path / f"over-{over}", batches, (), head)
    doc = json.loads(raw)
    assert doc["fill"] == head["fill"] and [r["error_body"] for r in doc["requests"]] == ["one", "two"]
    assert _notes(doc) == ["one", "two"]


@pytest.mark.parametrize("failure", [errno.EXDEV, errno.ENOSYS, errno.EINVAL])
def test_where_the_kernel_cannot_copy_a_loop_goes_on_from_where_it_stopped(tmp_path: Path, monkeypatch,
                                                                          failure: int) -> None:
    real = os.sendfile
    calls = [0]

    def part_then_fail(out: int, src: int, offset: Any, count: int) -> int:
        calls[0] += 1
        if calls[0] == 1:
            return real(out, src, offset, 7)  # a few bytes, then the error
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(spool_files.os, "sendfile", part_then_fail)
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
