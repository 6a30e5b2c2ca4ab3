"""A job file keeps each request's record once (its ``requests`` entry), and its spans get it back for a viewer.

Real jobs against the simulator for the round trip (the file's spans, their records put back, read as the
sidecar reads them, give the file's requests again); hand-made OTLP/JSON for the edges.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from batch_debug.collector import attributes as A, jobfile, records
from batch_debug.collector.otlp_decode import json_spans
from batch_debug.collector.replay import job_spans
from batch_debug.collector.span_records import drop_records, with_records
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT as FAST

FIXTURE_V1 = Path(__file__).parent.parent / "data" / "job_v1-fixture_20261129_144406.json"


def _spans(resource_spans: list[Any]) -> list[dict[str, Any]]:
    return [span for group in resource_spans for scope in group["scopeSpans"] for span in scope["spans"]]


def _keys(span: dict[str, Any]) -> list[str]:
    return [kv["key"] for kv in span.get("attributes", [])]


def _attribute(key: str, text: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": text}}


def _group(*spans: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"resource": {}, "scopeSpans": [{"scope": {"name": "x"}, "spans": list(spans)}]}]


@pytest.fixture
def mixed_file(debug_pipeline, make_sim) -> dict[str, Any]:
    """A real job with answers of every kind (retries, error bodies, HEAD probes), as its file holds it."""
    sim = make_sim("mixed", seed=11)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=2, **FAST), sim.demo_item_ids(12, seed=11),
            "records-once")
    path = debug_pipeline.job_file("records-once")
    assert path is not None
    return jobfile.load(path)


def test_the_file_keeps_each_record_once_and_its_spans_keep_their_conventions(mixed_file) -> None:
    spans = _spans(mixed_file["resourceSpans"])
    attempts = [s for s in spans if s.get("kind") == 3]
    assert len(attempts) == len(mixed_file["requests"]) > 12
    assert not any(A.RECORD in _keys(s) for s in spans)
    for span in attempts:  # what a viewer shows of the attempt is all there
        assert {A.HTTP_METHOD_NEW, A.HTTP_URL_NEW, A.SERVER_ADDRESS, A.SERVER_PORT, A.BODY_SIZE} <= set(_keys(span))
    assert mixed_file["format_version"] == 3


def test_the_spans_with_their_records_back_give_the_files_requests_again(mixed_file) -> None:
    restored = with_records(mixed_file["resourceSpans"], mixed_file["requests"])
    by_id = {entry["span_id"]: entry for entry in mixed_file["requests"]}
    attempts = [s for s in json_spans({"resourceSpans": restored}) if records.is_request_span(s)]
    assert len(attempts) == len(by_id)
    start_ns = next(s.start_time for s in json_spans({"resourceSpans": restored}) if A.JOB_ID in s.attributes)
    for span in attempts:
        entry = by_id[f"{span.context.span_id:016x}"]
        assert json.loads(span.attributes[A.RECORD]) == {k: v for k, v in entry.items() if k != "span_id"}
        record = records.request_record(span, start_ns)
        assert record == entry and list(record) == list(entry)  # key for key, in the file's order
    assert any("error_body" in entry for entry in by_id.values())  # error bodies made the round trip


def test_replay_gives_every_request_span_its_record(mixed_file) -> None:
    spans = job_spans(mixed_file)
    assert sum(A.RECORD in (s.attributes or {}) for s in spans) == len(mixed_file["requests"])
    # Item and job spans have no requests entry: nothing is added to them.
    assert not any(A.RECORD in (s.attributes or {}) for s in spans if not records.is_request_span(s))


def test_the_input_is_not_changed(mixed_file) -> None:
    before = copy.deepcopy(mixed_file)
    with_records(mixed_file["resourceSpans"], mixed_file["requests"])
    assert mixed_file == before


def test_spans_of_older_files_keep_the_record_they_carry() -> None:
    document = json.loads(FIXTURE_V1.read_text())
    carried = [s for s in _spans(document["resourceSpans"]) if A.RECORD in _keys(s)]
    assert carried, "the version 1 fixture's request spans carry their records"
    assert with_records(document["resourceSpans"], document["requests"]) == document["resourceSpans"]


def test_drop_removes_the_record_wherever_it_sits_and_nothing_else() -> None:
    last = {"spanId": "a", "attributes": [_attribute("x", "1"), _attribute(A.RECORD, "{}")]}
    first = {"spanId": "b", "attributes": [_attribute(A.RECORD, "{}"), _attribute("y", "2"), _attribute("z", "3")]}
    bare = {"spanId": "c"}
    empty = {"spanId": "d", "attributes": []}
    groups = _group(last, first, bare, empty)
    drop_records(groups)
    assert [_keys(s) for s in _spans(groups)] == [["x"], ["y", "z"], [], []]


def test_a_span_gets_the_entry_of_its_own_id_only() -> None:
    requests = [{"span_id": "a", "item_id": "one", "status_code": 200},
                {"span_id": "a", "item_id": "a repeat"},  # a damaged file: the first entry is the span's
                {"span_id": "b", "item_id": "two"}]
    out = with_records(_group({"spanId": "a", "attributes": [_attribute("x", "1")]}, {"spanId": "c"}), requests)
    first, other = _spans(out)
    assert _keys(first) == ["x", A.RECORD]
    assert json.loads(first["attributes"][-1]["value"]["stringValue"]) == {"item_id": "one", "status_code": 200}
    assert other == {"spanId": "c"}


@pytest.mark.parametrize("resource_spans,requests,given", [
    (_group({"spanId": ["not", "text"], "attributes": []}), [{"span_id": "a"}], 0),
    (_group({"spanId": "a", "attributes": "not a list"}), [{"span_id": "a"}], 0),
    (_group("not a span", {"spanId": "a"}), [{"span_id": "a"}], 1),  # the span beside the junk still gets it
    ([{"scopeSpans": "not a list"}, "not a group", {"scopeSpans": [{"spans": None}, 7]}], [{"span_id": "a"}], 0),
    (_group({"spanId": "a"}), "not a list", 0),
    (_group({"spanId": "a"}), [None, 7, {"span_id": 5}, {"no": "id"}], 0),
])
def test_what_is_not_shaped_like_otlp_json_is_passed_on_as_it_is(resource_spans, requests, given: int) -> None:
    before = copy.deepcopy(resource_spans)
    out = with_records(resource_spans, requests)
    assert resource_spans == before
    assert json.dumps(out).count(A.RECORD) == given
    assert len(out) == len(resource_spans)
