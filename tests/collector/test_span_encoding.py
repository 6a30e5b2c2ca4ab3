"""Spans encoded one at a time give, byte for byte, what the public encoder gives for the whole batch.

Real spans of a real job against the simulator, in batches of every size the writer may hand over; then
spans made to be awkward (several resources and scopes, text that looks like JSON or like the marker);
then what happens when the encoder's private functions are gone.
"""

from __future__ import annotations

import logging
import sys

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind

from batch_debug.collector import attributes as A, span_encoding
from batch_debug.collector.span_encoding import by_batch, by_span, resource_spans_text
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT as FAST


@pytest.fixture
def job_spans(debug_pipeline, recorded_spans, make_sim) -> list[ReadableSpan]:
    sim = make_sim("mixed", seed=4)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=3, **FAST), sim.demo_item_ids(15, seed=4),
            "encoded")
    assert debug_pipeline.flush(10)
    spans = list(recorded_spans.get_finished_spans())
    assert sum(A.RECORD in (s.attributes or {}) for s in spans) > 15
    return spans


def test_a_real_jobs_spans_encode_the_same_in_batches_of_any_size(job_spans) -> None:
    for size in (1, 2, 7, 32, 1000):
        for start in range(0, len(job_spans), size):
            batch = job_spans[start:start + size]
            assert by_span(batch) == by_batch(batch), (size, start)


def _span(number: int, resource: Resource, scope: InstrumentationScope | None, **attributes) -> ReadableSpan:
    return ReadableSpan(f"s{number}", SpanContext(1, number, False), None, resource, attributes, kind=SpanKind.CLIENT,
                        start_time=number, end_time=number + 1, instrumentation_scope=scope)


def test_awkward_spans_encode_the_same() -> None:
    looks_like_a_marker = f'"{span_encoding._MARKER[:-8]}-0"'  # the marker's shape, not its random value
    first = Resource({"service.name": '"quoted", [brackets]', "marker": looks_like_a_marker})
    second = Resource({}, "https://schema.example/1")
    ours, other = InstrumentationScope("batch_debug", "1"), InstrumentationScope("x", None, "https://s.example")
    batch = [
        _span(1, first, ours, text="é ü \\ \" \n", **{A.RECORD: "{}"}),
        _span(2, second, other, **{A.RECORD: '{"item_id":"a"}', "after": 1}),  # the record not last
        _span(3, first, None, looks=looks_like_a_marker),
        _span(4, first, other),
        _span(5, second, ours, numbers=(1, 2, 3), flag=True, ratio=0.25),
    ]
    text = by_span(batch)
    assert text == by_batch(batch)
    assert A.RECORD not in text and text.count('"resource"') == 2


def test_the_per_span_way_is_the_one_used_with_the_pinned_encoder() -> None:
    assert span_encoding._choose() is by_span


def test_without_the_encoders_private_functions_batches_still_encode_with_one_warning(
        monkeypatch, caplog, job_spans) -> None:
    # As after an upgrade that renamed it: the public encoder keeps its own reference, ours is gone.
    monkeypatch.delattr(sys.modules["opentelemetry.exporter.otlp.json.common._internal"], "_encode_resource")
    monkeypatch.setattr(span_encoding, "_chosen", None)
    with caplog.at_level(logging.WARNING, logger="batch_debug.collector.span_encoding"):
        first = resource_spans_text(job_spans[:10])
        second = resource_spans_text(job_spans[10:20])
    assert first == by_batch(job_spans[:10]) and second == by_batch(job_spans[10:20])
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "_encode_resource" in warnings[0], warnings


def test_a_per_span_way_that_disagrees_is_not_used(monkeypatch, caplog) -> None:
    monkeypatch.setattr(span_encoding, "by_span", lambda spans: "{}")
    monkeypatch.setattr(span_encoding, "_chosen", None)
    with caplog.at_level(logging.WARNING, logger="batch_debug.collector.span_encoding"):
        assert span_encoding._choose() is by_batch
    assert "differently" in caplog.text
