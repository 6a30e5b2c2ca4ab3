"""The sampler and the per-job processor, with a real TracerProvider (no global state)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased
from opentelemetry.trace import SpanKind

from batch_debug.collector import attributes as A
from batch_debug.collector import document, jobfile, progress
from batch_debug.collector.processor import JobFileWriter, JobSpanProcessor
from batch_debug.collector.sampler import DebugSampler
from batch_debug.collector.switch import DebugSwitch


def _provider(folder: Path, max_spans: int = 1000):
    switch = DebugSwitch(folder, environ={})
    exporter = InMemorySpanExporter()
    processor = JobSpanProcessor(JobFileWriter(folder), max_spans=max_spans)
    provider = TracerProvider(sampler=ParentBased(DebugSampler(switch)), shutdown_on_exit=False)
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, switch, processor, exporter


def _job(tracer, job_id: str, requests: int, status: int = 200) -> None:
    with tracer.start_as_current_span("batch job", context=Context(), attributes={A.JOB_ID: job_id}):
        with tracer.start_as_current_span("poster item", attributes={A.ITEM_ID: "i1"}) as item:
            for _ in range(requests):
                with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT,
                                                  attributes={"http.method": "GET", "http.url": "http://h/x",
                                                              "http.status_code": status}):
                    pass
            item.set_attribute(A.ITEM_OUTCOME, "succeeded" if status < 400 else "failed")


def test_debug_off_records_nothing_and_writes_nothing(tmp_path: Path) -> None:
    provider, _, processor, exporter = _provider(tmp_path)
    _job(provider.get_tracer("t"), "off-job", 3)
    processor.force_flush()
    assert exporter.get_finished_spans() == ()
    assert jobfile.list_job_files(tmp_path) == []


def test_debug_on_writes_one_file_per_job_with_all_its_spans(tmp_path: Path) -> None:
    provider, switch, processor, exporter = _provider(tmp_path)
    switch.enable(5)
    tracer = provider.get_tracer("t")
    _job(tracer, "job-a", 3)
    _job(tracer, "job-b", 2, status=404)
    assert processor.force_flush()
    files = {info.job_id: jobfile.load(info.path) for info in jobfile.list_job_files(tmp_path)}
    assert sorted(files) == ["job-a", "job-b"]
    assert files["job-a"]["summary"]["total_requests"] == 3
    assert files["job-b"]["summary"]["status_code_breakdown"] == {"404": 2}
    assert files["job-b"]["complete"] is True
    spans_a = files["job-a"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans_a) == 5  # job + item + 3 requests
    assert len({s["traceId"] for s in spans_a}) == 1
    assert len(exporter.get_finished_spans()) == 9


def test_span_cap_counts_dropped_spans(tmp_path: Path) -> None:
    provider, switch, processor, _ = _provider(tmp_path, max_spans=4)
    switch.enable(5)
    _job(provider.get_tracer("t"), "big", 10)
    processor.force_flush()
    data = jobfile.load(jobfile.newest_for(tmp_path, "big"))
    assert data["dropped_spans"] == 7  # 11 child spans, 4 kept
    assert data["summary"]["dropped_spans"] == 7


def test_a_crash_while_writing_is_logged_and_the_job_goes_on(tmp_path: Path, monkeypatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    provider, switch, processor, _ = _provider(tmp_path)
    switch.enable(5)

    def broken(*args, **kwargs):
        raise RuntimeError("analysis blew up")

    monkeypatch.setattr("batch_debug.collector.writer.build_head", broken)
    with caplog.at_level(logging.ERROR):
        _job(provider.get_tracer("t"), "crash", 1)  # must not raise
        processor.force_flush()
    assert processor.writer.errors == 1
    assert processor.writer.last_error == "building the job file for crash: RuntimeError: analysis blew up"
    assert "could not write the job file for crash" in caplog.text
    monkeypatch.setattr("batch_debug.collector.writer.build_head", document.build_head)
    _job(provider.get_tracer("t"), "after", 1)
    processor.force_flush()
    assert jobfile.newest_for(tmp_path, "after") is not None


def test_shutdown_mid_job_writes_an_incomplete_file(tmp_path: Path) -> None:
    provider, switch, processor, _ = _provider(tmp_path)
    switch.enable(5)
    tracer = provider.get_tracer("t")
    job = tracer.start_span("batch job", context=Context(), attributes={A.JOB_ID: "cut"})
    from opentelemetry import trace
    with tracer.start_as_current_span("GET", context=trace.set_span_in_context(job), kind=SpanKind.CLIENT,
                                      attributes={"http.method": "GET", "http.status_code": 200}):
        pass
    assert processor.open_jobs() == ["cut"]
    provider.shutdown()
    data = jobfile.load(jobfile.newest_for(tmp_path, "cut"))
    assert data["complete"] is False
    assert data["summary"]["total_requests"] == 1


def test_running_job_publishes_progress_and_retires_it(tmp_path: Path) -> None:
    provider, switch, processor, _ = _provider(tmp_path)
    switch.enable(5)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("batch job", context=Context(),
                                      attributes={A.JOB_ID: "live", A.JOB_ITEMS_TOTAL: 4}):
        processor.force_flush()
        active = progress.read_active(tmp_path)
        assert [(a["job_id"], a["items_total"], a["items_done"]) for a in active] == [("live", 4, 0)]
    processor.force_flush()
    assert progress.read_active(tmp_path) == []


def test_job_file_is_compact_json_with_the_design_keys(tmp_path: Path) -> None:
    provider, switch, processor, _ = _provider(tmp_path)
    switch.enable(5)
    _job(provider.get_tracer("t"), "keys", 1)
    processor.force_flush()
    path = jobfile.newest_for(tmp_path, "keys")
    data = json.loads(path.read_text())
    assert {"job_id", "complete", "generated_at", "summary", "environment", "requests",
            "resourceSpans"} <= set(data)
    assert set(data["summary"]) >= {
        "job_id", "debug_enabled", "duration_seconds", "total_requests", "successful_requests",
        "failed_requests", "success_rate_percent", "status_code_breakdown", "items_total",
        "items_succeeded", "items_failed", "failure_patterns", "recommendations"}


def test_a_job_span_with_an_invalid_id_writes_nothing_outside_the_folder(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "a" / "debug"
    provider, switch, processor, _ = _provider(folder)
    switch.enable(5)
    tracer = provider.get_tracer("t")
    with caplog.at_level(logging.WARNING, logger="batch_debug.collector.processor"):
        with tracer.start_as_current_span("batch job", context=Context(),
                                          attributes={A.JOB_ID: "../../x", A.JOB_ITEMS_TOTAL: 2}):
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT,
                                              attributes={"http.method": "GET", "http.status_code": 200}):
                pass
            assert processor.force_flush()
            assert processor.open_jobs() == [] and progress.read_active(folder) == []
    assert processor.force_flush()
    outside = [p for p in tmp_path.rglob("*") if p != folder and folder not in p.parents and p not in folder.parents]
    assert outside == []
    assert jobfile.list_job_files(folder) == []
    assert "../../x" in caplog.text


def test_progress_is_never_published_under_an_invalid_job_id(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "debug"
    folder.mkdir(parents=True)
    for job_id in ("../../x", "/etc/x", "a/b", ""):
        progress.publish(folder, progress.JobProgress(job_id, None))
        progress.retire(folder, job_id)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [Path("a"), Path("a/debug")]
