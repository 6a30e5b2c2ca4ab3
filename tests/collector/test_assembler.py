"""The assembler builds from finished spans alone the file the processor builds live.

Real jobs against the simulator; the spans the pipeline recorded are then fed
to a :class:`JobAssembler` writing into another folder.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from batch_debug.collector import attributes as A
from batch_debug.collector import jobfile
from batch_debug.collector.assembler import JobAssembler
from batch_debug.collector.otlp_decode import JSON, decode_traces
from batch_debug.collector.span_records import with_records
from batch_debug.collector.writer import JobFileWriter
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT as FAST, comparable_job



def _run(pipeline, recorded_spans, sim, job_id: str, count: int = 12) -> tuple[dict, list[ReadableSpan]]:
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=3, **FAST),
            sim.demo_item_ids(count, seed=7), job_id)
    path = pipeline.job_file(job_id)
    assert path is not None
    data = jobfile.load(path)
    spans = [s for s in recorded_spans.get_finished_spans() if f"{s.context.trace_id:032x}" == data["trace_id"]]
    return data, spans


def _assemble(folder: Path, spans, **kwargs) -> JobAssembler:
    assembler = JobAssembler(JobFileWriter(folder), **kwargs)
    assembler.add(spans)
    assert assembler.flush(10)
    return assembler


def _only_file(folder: Path) -> dict:
    files = jobfile.list_job_files(folder)
    assert len(files) == 1, files
    return jobfile.load(files[0].path)


def test_assembled_file_equals_the_processors(debug_pipeline, recorded_spans, make_sim, tmp_path: Path) -> None:
    sim = make_sim("mixed", seed=7)
    local, spans = _run(debug_pipeline, recorded_spans, sim, "assemble-me")
    assert local["summary"]["failed_requests"] > 0  # a job with failures, retries and error bodies
    _assemble(tmp_path / "assembled", spans)
    assert comparable_job(_only_file(tmp_path / "assembled")) == comparable_job(local)


def test_a_job_file_rebuilds_from_its_own_resource_spans(debug_pipeline, recorded_spans, make_sim,
                                                        tmp_path: Path) -> None:
    sim = make_sim("mixed", seed=7)
    local, _ = _run(debug_pipeline, recorded_spans, sim, "replayed")
    # The file keeps each record once, in requests; export and the trace download put it back on its span.
    assert not any(kv["key"] == A.RECORD for rs in local["resourceSpans"] for ss in rs["scopeSpans"]
                   for span in ss["spans"] for kv in span.get("attributes", []))
    body = json.dumps({"resourceSpans": with_records(local["resourceSpans"], local["requests"])}).encode()
    _assemble(tmp_path, decode_traces(body, JSON))  # what a replay to the sidecar's /v1/traces does
    assert comparable_job(_only_file(tmp_path)) == comparable_job(local)


def test_request_spans_carry_no_copy_of_what_their_attributes_hold(debug_pipeline, recorded_spans, sim) -> None:
    local, spans = _run(debug_pipeline, recorded_spans, sim, "records-ride", count=3)
    carried = [json.loads(s.attributes[A.RECORD]) for s in spans if A.RECORD in (s.attributes or {})]
    assert len(carried) == len(local["requests"]) == 9
    for extras in carried:
        assert not {"method", "url", "status_code", "attempt", "span_id", "duration_ms"} & set(extras)
        assert {"item_id", "start_offset_ms", "body_bytes", "connection_reused"} <= set(extras)


def test_any_order_of_arrival_gives_the_same_job(debug_pipeline, recorded_spans, make_sim, tmp_path: Path) -> None:
    sim = make_sim("flaky", seed=2)
    local, spans = _run(debug_pipeline, recorded_spans, sim, "shuffled")
    job_span = next(s for s in spans if A.JOB_ID in s.attributes)
    children = [s for s in spans if s is not job_span]
    random.Random(5).shuffle(children)
    assembler = JobAssembler(JobFileWriter(tmp_path))
    for start in range(0, len(children), 7):  # in small exports, as a batch processor would send them
        assembler.add(children[start:start + 7])
    assembler.add([job_span])
    assert assembler.flush(10)
    got = _only_file(tmp_path)
    assert got["summary"] == local["summary"]
    same, expected = comparable_job(got), comparable_job(local)
    assert (same["items"], same["requests"]) == (expected["items"], expected["requests"])
    assert sum(len(ss["spans"]) for rs in got["resourceSpans"] for ss in rs["scopeSpans"]) == len(spans)


def _without_record(span: ReadableSpan) -> ReadableSpan:
    attrs = {k: v for k, v in span.attributes.items() if k != A.RECORD}
    return ReadableSpan(span.name, span.context, span.parent, span.resource, attrs, span.events, span.links,
                        kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
                        instrumentation_scope=span.instrumentation_scope)


def test_spans_without_a_record_fall_back_to_their_attributes(debug_pipeline, recorded_spans, make_sim,
                                                              tmp_path: Path) -> None:
    sim = make_sim("mixed", seed=7)
    local, spans = _run(debug_pipeline, recorded_spans, sim, "no-records")
    _assemble(tmp_path, [_without_record(s) for s in spans])
    got = _only_file(tmp_path)
    # A span of another instrumentation has no item id of its own (ours carry it in the record).
    keys = ("span_id", "attempt", "method", "url", "route", "status_code", "error_type", "start_offset_ms",
            "duration_ms")
    def pick(records):
        return sorted(({k: r.get(k) for k in keys} for r in records), key=lambda r: r["span_id"])
    assert pick(got["requests"]) == pick(local["requests"])
    for name in ("total_requests", "status_code_breakdown", "items_total", "items_failed", "retries"):
        assert got["summary"][name] == local["summary"][name]


def test_a_trace_without_its_job_span_is_dropped_after_the_timeout(debug_pipeline, recorded_spans, sim,
                                                                  tmp_path: Path, caplog) -> None:
    _, spans = _run(debug_pipeline, recorded_spans, sim, "orphan", count=180)  # more than one spooled batch
    children = [s for s in spans if A.JOB_ID not in s.attributes]
    folder = tmp_path / "assembled"
    assembler = JobAssembler(JobFileWriter(folder), pending_timeout=60)
    assembler.add(children)
    assembler.flush(10)
    assert assembler.pending() == 1
    assert list(folder.iterdir()) != []  # batches wait on disk for the job span
    assert assembler.sweep(now=time.monotonic() + 30) == 0
    with caplog.at_level(logging.DEBUG, logger="batch_debug.collector.assembler"):
        assert assembler.sweep(now=time.monotonic() + 61) == 1
    assert assembler.pending() == 0
    assert any("no job span" in r.getMessage() for r in caplog.records)
    assembler.flush(10)
    assert list(folder.iterdir()) == []  # no job file, and the spooled batches are gone too


def test_requests_outside_jobs_are_let_go_at_once(debug_pipeline, recorded_spans, sim, tmp_path: Path) -> None:
    with httpx.Client() as client:
        client.get(f"{sim.url}/System/Info/Public")
    outside = list(recorded_spans.get_finished_spans())
    assert len(outside) == 1 and outside[0].parent is None
    assembler = _assemble(tmp_path, outside)
    assert assembler.pending() == 0
    assert jobfile.list_job_files(tmp_path) == []


def test_open_traces_are_bounded(debug_pipeline, recorded_spans, sim, tmp_path: Path) -> None:
    children = []
    for n in range(4):
        _, spans = _run(debug_pipeline, recorded_spans, sim, f"bounded-{n}", count=1)
        children += [s for s in spans if A.JOB_ID not in s.attributes]
        recorded_spans.clear()
    assembler = _assemble(tmp_path, children, max_pending_traces=2)
    assert assembler.pending() == 2
    assert assembler.dropped_traces == 2


def test_bad_spans_are_skipped_and_the_job_still_written(debug_pipeline, recorded_spans, sim,
                                                          tmp_path: Path) -> None:
    local, spans = _run(debug_pipeline, recorded_spans, sim, "one-bad", count=2)
    first = next(s for s in spans if A.RECORD in s.attributes)
    broken = ReadableSpan(first.name, first.context, first.parent, first.resource,
                          {**first.attributes, A.RECORD: "{not json"}, kind=first.kind,
                          start_time=first.start_time, end_time=first.end_time)
    _assemble(tmp_path, [broken if s is first else s for s in spans])
    got = _only_file(tmp_path)
    assert len(got["requests"]) == len(local["requests"]) - 1
    assert got["dropped_records"] == got["summary"]["dropped_records"] == 1


@pytest.mark.parametrize("wrong", [
    {"error_body": 12345}, {"status_code": "abc"}, {"body_bytes": "many"}, {"ttfb_ms": [1]},
    {"connection_reused": "yes"}, {"response_headers": {"server": 1}}, {"item_id": {"id": 1}},
    {"body_ms": float("nan")},  # json.dumps writes NaN, which is no JSON: the record cannot be read
], ids=lambda wrong: next(iter(wrong)))
def test_a_record_with_a_key_of_the_wrong_type_is_dropped_and_counted(debug_pipeline, recorded_spans, sim,
                                                                      tmp_path: Path, wrong: dict) -> None:
    local, spans = _run(debug_pipeline, recorded_spans, sim, "typed", count=2)
    first = next(s for s in spans if A.RECORD in s.attributes)
    record = {**json.loads(first.attributes[A.RECORD]), **wrong}
    broken = ReadableSpan(first.name, first.context, first.parent, first.resource,
                          {**first.attributes, A.RECORD: json.dumps(record)}, kind=first.kind,
                          start_time=first.start_time, end_time=first.end_time)
    _assemble(tmp_path, [broken if s is first else s for s in spans])
    got = _only_file(tmp_path)
    assert got["dropped_records"] == got["summary"]["dropped_records"] == 1
    assert got["summary"]["total_requests"] == local["summary"]["total_requests"] - 1
    assert {r["span_id"] for r in got["requests"]} == {r["span_id"] for r in local["requests"]
                                                       if r["span_id"] != f"{first.context.span_id:016x}"}


@pytest.mark.parametrize("job_id", ["../escape", "a" * 200, ""])
def test_a_job_span_with_an_invalid_id_writes_nothing(debug_pipeline, recorded_spans, sim, tmp_path: Path,
                                                      job_id: str) -> None:
    _, spans = _run(debug_pipeline, recorded_spans, sim, "renamed", count=1)
    job_span = next(s for s in spans if A.JOB_ID in s.attributes)
    renamed = ReadableSpan(job_span.name, job_span.context, None, job_span.resource,
                           {**job_span.attributes, A.JOB_ID: job_id}, kind=job_span.kind,
                           start_time=job_span.start_time, end_time=job_span.end_time)
    assembler = _assemble(tmp_path, [s for s in spans if s is not job_span] + [renamed])
    assert jobfile.list_job_files(tmp_path) == []
    assert assembler.pending() == 0
