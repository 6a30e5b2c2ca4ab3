"""A job file's head read fast: found across read chunks, and without its item records when they are not needed.

A real job's file (the reference worker against the simulator) for the everyday case; hand-made heads for
the layouts that must fall back: an older format, items that are not the last key, a nested ``"items":[``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings, strategies as st

from batch_debug.collector import jobfile, jobstream
from batch_debug.collector.document import FORMAT_VERSION
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT as FAST

FIXTURE_V1 = Path(__file__).parent.parent / "data" / "job_v1-fixture_20261129_144406.json"


def _file(tmp_path: Path, head: dict[str, Any], requests: list[Any] | None = None) -> Path:
    """A job file laid out as the writer lays it out: the head, then the streamed requests and spans."""
    text = json.dumps(head, separators=(",", ":"))[:-1]
    body = json.dumps(requests or [{"n": 1}], separators=(",", ":"))
    path = tmp_path / "job_x_20260101_000000.json"
    path.write_text(f'{text},"requests":{body},"resourceSpans":[]}}')
    return path


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def test_a_real_heads_items_are_left_unread_and_the_rest_is_whole(debug_pipeline, make_sim) -> None:
    sim = make_sim("mixed", seed=3)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=2, **FAST), sim.demo_item_ids(9, seed=3),
            "head-read")
    path = debug_pipeline.job_file("head-read")
    assert path is not None
    whole = jobfile.load(path)
    assert whole["format_version"] == FORMAT_VERSION and list(whole)[-3:] == ["items", "requests", "resourceSpans"]
    head = _without(_without(whole, "requests"), "resourceSpans")
    assert jobfile.load_head(path) == head
    assert jobfile.load_head(path, items=False) == _without(head, "items")
    first, records, more = jobstream.first_requests(path, 4, items=False)
    assert first == _without(head, "items") and records == whole["requests"][:4] and more


def test_the_items_are_never_parsed_in_a_head_of_this_format(tmp_path: Path) -> None:
    # Items that are not JSON at all: only a reader that skips them reads this head.
    path = tmp_path / "job_x_20260101_000000.json"
    path.write_text('{"format_version":3,"summary":{"total_requests":1},"environment":{},"items":[not json'
                    ',"requests":[],"resourceSpans":[]}')
    assert jobfile.load_head(path, items=False) == {"format_version": 3, "summary": {"total_requests": 1},
                                                    "environment": {}}


@pytest.mark.parametrize("head", [
    # format 2: the items were not promised to be last
    {"format_version": 2, "summary": {"n": 1}, "items": [{"item_id": "a"}], "environment": {"kept": True}},
    # no version
    {"summary": {"n": 1}, "items": [], "environment": {"kept": True}},
    # a nested "items" list after the real one: the last one found is not at the top level
    {"format_version": 3, "summary": {"n": 1}, "items": [{"item_id": "a", "x": {"n": 2, "items": [1]}}]},
    # only a nested one, no items of the head's own
    {"format_version": 3, "summary": {"evidence": {"n": 2, "items": ["a", "b"]}}, "environment": {"kept": True}},
])
def test_heads_the_cut_cannot_read_are_read_whole_less_their_items(tmp_path: Path, head: dict[str, Any]) -> None:
    path = _file(tmp_path, head)
    assert jobfile.load_head(path, items=False) == _without(head, "items")
    assert jobfile.load_head(path) == head


def test_a_version_1_file_reads_as_before() -> None:
    whole = json.loads(FIXTURE_V1.read_text())
    head = _without(_without(whole, "requests"), "resourceSpans")
    assert jobfile.load_head(FIXTURE_V1) == head
    assert jobfile.load_head(FIXTURE_V1, items=False) == _without(head, "items")


@settings(max_examples=40, deadline=None)
@given(head_size=st.integers(min_value=0, max_value=300), chunk=st.integers(min_value=1, max_value=40),
       tail=st.binary(max_size=30))
def test_the_marker_is_found_wherever_the_chunks_split_it(head_size: int, chunk: int, tail: bytes) -> None:
    head = b"x" * head_size
    data = head + jobfile.STREAM_MARKER + tail
    with mock.patch.object(jobfile, "HEAD_CHUNK", chunk):
        found = jobfile.split_head(io.BytesIO(data))
        missing = jobfile.split_head(io.BytesIO(head))
    assert found is not None and missing is None
    assert found[0] == head and data.startswith(found[0] + jobfile.STREAM_MARKER + found[1])
