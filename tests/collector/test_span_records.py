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
from hypothesis import given, settings, strategies as st

from batch_debug.collector import attributes as A, entry_attributes, jobfile, records
from batch_debug.collector.otlp_decode import json_spans
from batch_debug.collector.replay import job_spans
from batch_debug.collector.span_encoding import by_batch, by_span
from batch_debug.collector.entry_attributes import GIVEN_BACK, given_back, slim
from batch_debug.collector.span_records import drop_records, with_records
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT as FAST, request_span_attributes

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


def test_the_file_keeps_each_record_once_and_its_spans_leave_out_what_the_record_gives_back(mixed_file) -> None:
    spans = _spans(mixed_file["resourceSpans"])
    attempts = [s for s in spans if s.get("kind") == 3]
    assert len(attempts) == len(mixed_file["requests"]) > 12
    assert not any(A.RECORD in _keys(s) for s in spans)
    # Every attempt of a real job (retries, error bodies, HEAD probes, failures) is slimmed: the user agent stays.
    assert all(_keys(span) == [A.USER_AGENT] for span in attempts), [_keys(s) for s in attempts]
    assert mixed_file["format_version"] == 4


@pytest.fixture
def job_made(debug_pipeline, recorded_spans, make_sim) -> tuple[dict[str, Any], list[Any]]:
    """A real job with failures of every kind: its file, and its spans as the job made them."""
    sim = make_sim("mixed", seed=12)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=2, **FAST), sim.demo_item_ids(14, seed=12),
            "made-whole")
    path = debug_pipeline.job_file("made-whole")
    assert path is not None
    return jobfile.load(path), list(recorded_spans.get_finished_spans())


def test_the_spans_made_whole_again_are_the_spans_the_job_made(job_made) -> None:
    document, made = job_made
    as_made = {span["spanId"]: span for span in _spans(json.loads("[" + by_batch(made) + "]"))}
    restored = _spans(with_records(document["resourceSpans"], document["requests"]))
    assert len(restored) == len(as_made) > 20
    for span in restored:
        attributes = span.get("attributes", [])
        if span.get("kind") == 3:
            assert attributes[-1]["key"] == A.RECORD
            attributes = attributes[:-1]
        # Attribute for attribute, in order, each value as the encoder wrote it (an int64 as text).
        assert attributes == as_made[span["spanId"]].get("attributes", []), span["name"]
    assert {kv["key"] for s in restored for kv in s.get("attributes", [])} >= GIVEN_BACK - {A.RESEND_COUNT} or \
        any(r["attempt"] > 1 for r in document["requests"])


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
                {"span_id": "b", "item_id": "two", "status_code": 404}]
    out = with_records(_group({"spanId": "a", "attributes": [_attribute("x", "1")]}, {"spanId": "c"},
                              {"spanId": "b", "attributes": [_attribute("x", "2")]}), requests)
    first, other, second = _spans(out)
    # Its record is the first entry's; what an entry gives back, none: the id's two entries may be two spans'.
    assert _keys(first) == ["x", A.RECORD]
    assert json.loads(first["attributes"][-1]["value"]["stringValue"]) == {"item_id": "one", "status_code": 200}
    assert other == {"spanId": "c"}
    # An id with one entry: what the entry gives back, then the record.
    assert _keys(second) == ["x", A.HTTP_STATUS_NEW, A.ERROR_TYPE, A.RECORD]
    assert second["attributes"][1]["value"] == {"intValue": "404"}
    assert second["attributes"][2]["value"] == {"stringValue": "404"}


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


# -- what the entry gives back, made whole again ----------------------------------------------------------

_ENTRIES = st.fixed_dictionaries({
    "method": st.sampled_from(["GET", "HEAD", "POST"]),
    "url": st.sampled_from(["http://127.0.0.1:8096/Items/abc/Images/Primary", "https://jf.example/Items/x/Images/Logo",
                            "http://[::1]/System/Info/Public", "http://h/unknown/path", "https://h:8443/"]),
    "attempt": st.integers(1, 4),
    "status_code": st.one_of(st.none(), st.sampled_from([200, 302, 404, 500])),
    "error_type": st.one_of(st.none(), st.sampled_from(["ReadTimeout", "ConnectError"])),
}, optional={"http_version": st.sampled_from(["HTTP/1.1", "HTTP/2"]), "body_bytes": st.integers(0, 2**40)})

#: What can make a span's attributes differ from what its entry gives back.
_CHANGES = st.sampled_from(["none", "drop one", "other value", "bool for int", "swap two", "extra key first",
                            "extra key last"])


@settings(max_examples=150, deadline=None)
@given(_ENTRIES, st.one_of(st.none(), st.text(max_size=8)), _CHANGES, st.randoms(use_true_random=False))
def test_a_slimmed_span_made_whole_is_the_span_and_any_other_is_left_whole(entry, agent, change, rnd) -> None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind

    attributes = list(request_span_attributes(entry, agent).items())
    ints = [n for n, (_, value) in enumerate(attributes) if type(value) is int]
    if change == "drop one" and attributes:
        attributes.pop(rnd.randrange(len(attributes)))
    elif change == "other value" and attributes:
        n = rnd.randrange(len(attributes))
        attributes[n] = (attributes[n][0], f"{attributes[n][1]}-other")
    elif change == "bool for int" and ints:
        n = rnd.choice(ints)
        attributes[n] = (attributes[n][0], bool(attributes[n][1]))
    elif change == "swap two" and len(attributes) > 1:
        a, b = rnd.sample(range(len(attributes)), 2)
        attributes[a], attributes[b] = attributes[b], attributes[a]
    elif change == "extra key first":
        attributes.insert(0, ("peer.service", "x"))
    elif change == "extra key last":
        attributes.append(("peer.service", "x"))
    span = ReadableSpan("GET", SpanContext(5, 77, False), None, Resource({}), {**dict(attributes), A.RECORD: "{}"},
                        kind=SpanKind.CLIENT, start_time=1, end_time=2,
                        instrumentation_scope=InstrumentationScope("batch_debug", "1"))
    requests = [{**entry, "span_id": f"{77:016x}"}]
    whole = _spans(json.loads("[" + by_batch([span]) + "]"))[0]
    in_file = _spans(json.loads("[" + by_span([span], {77: requests[0]}) + "]"))[0]
    assert in_file == _spans(json.loads("[" + by_batch([span], {77: requests[0]}) + "]"))[0]
    slimmed = slim({**dict(attributes), A.RECORD: "{}"}, entry)
    # The quick check answers as its definition (merging back, then comparing) does.
    assert slimmed == entry_attributes._slim_by_merging({**dict(attributes), A.RECORD: "{}"}, given_back(entry))
    if slimmed:
        assert not GIVEN_BACK.intersection(_keys(in_file))
    else:
        assert in_file == whole  # kept whole
    if GIVEN_BACK.intersection(_keys(whole)):  # a span with none of them may get some (the module doc)
        made_whole = _spans(with_records(_group(in_file), requests))[0]
        assert made_whole["attributes"][:-1] == whole.get("attributes", [])


@pytest.mark.parametrize("batches", ["one batch", "two batches"])
def test_a_span_id_twice_never_gets_the_other_spans_attributes(tmp_path: Path, batches: str) -> None:
    """A damaged or hostile job whose two request spans share an id: which entry is whose, no one can tell.
    In one batch the writer keeps both whole; across batches it cannot know, and the spans are given back
    without what an entry would give: fewer attributes, never another span's."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind

    from batch_debug.collector.spool import JobSpool

    def made(status: int) -> tuple[ReadableSpan, dict[str, Any]]:
        entry = {"method": "GET", "url": "http://h/x", "attempt": 1, "status_code": status, "error_type": None,
                 "span_id": f"{9:016x}"}
        attributes = {**request_span_attributes(entry, "ua"), A.RECORD: "{}"}
        span = ReadableSpan("GET", SpanContext(5, 9, False), None, Resource({}), attributes, kind=SpanKind.CLIENT,
                            start_time=1, end_time=2, instrumentation_scope=InstrumentationScope("batch_debug"))
        return span, entry

    (first, first_entry), (second, second_entry) = made(200), made(503)
    spool = JobSpool(tmp_path)
    if batches == "one batch":
        spool.add([first, second], [first_entry, second_entry])
    else:
        spool.add([first], [first_entry])
        spool.add([second], [second_entry])
    path = spool.write_job_file("dup", {"format_version": 4, "job_id": "dup", "summary": {}})
    spool.close()
    document = json.loads(path.read_text(encoding="utf-8"))
    whole = [s["attributes"] for s in _spans(json.loads("[" + by_batch([first, second]) + "]"))]
    restored = [s["attributes"][:-1] for s in _spans(with_records(document["resourceSpans"], document["requests"]))]
    if batches == "one batch":
        assert restored == whole  # kept whole by the writer
    else:
        assert restored == [[{"key": A.USER_AGENT, "value": {"stringValue": "ua"}}]] * 2
