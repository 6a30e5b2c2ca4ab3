"""Spans encoded one at a time give, byte for byte, what the public encoder gives for the whole batch.

Real spans of a real job against the simulator, in batches of every size the writer may hand over; then
spans made to be awkward (several resources and scopes, text that looks like JSON or like the marker);
then what happens when the encoder's private functions are gone.
"""

from __future__ import annotations

import logging
import sys

import pytest
from hypothesis import given, settings, strategies as st
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
    monkeypatch.setattr(span_encoding, "by_span", lambda spans, entries=None: "{}")
    monkeypatch.setattr(span_encoding, "_chosen", None)
    with caplog.at_level(logging.WARNING, logger="batch_debug.collector.span_encoding"):
        assert span_encoding._choose() is by_batch
    assert "differently" in caplog.text


def test_equal_values_of_other_types_a_refused_value_and_dropped_attributes_encode_the_same(caplog) -> None:
    from opentelemetry.attributes import BoundedAttributes

    resource, scope = Resource({"service.name": "s"}), InstrumentationScope("batch_debug", "1")
    bounded = _span(9, resource, scope)
    bounded._attributes = BoundedAttributes(2, {"a": 1, "b": 2})
    bounded._attributes.dropped = 3
    batch = [_span(1, resource, scope, v=True), _span(2, resource, scope, v=1), _span(3, resource, scope, v=1.0),
             _span(4, resource, scope, v=True, w=1), _span(5, resource, scope, v=object(), after="kept"),
             _span(6, resource, scope, **{A.RECORD: "{}"}), bounded, _span(7, resource, scope, v=True)]
    with caplog.at_level(logging.ERROR):
        assert by_span(batch) == by_batch(batch)
    text = by_span(batch)
    assert text.count('"boolValue":true') == 3 and '"droppedAttributesCount":3' in text and '"kept"' in text


def test_more_distinct_attributes_than_are_kept_encode_the_same() -> None:
    resource, scope = Resource({}), InstrumentationScope("batch_debug", "1")
    pairs = span_encoding._KEPT_PAIRS
    batch = [_span(n, resource, scope, n=n % (pairs + 7), same="x", other=n % 3) for n in range(1, 3 * pairs)]
    assert by_span(batch) == by_batch(batch)


_VALUES = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=80),
                    st.sampled_from([0, 1, True, False, 0.0, 1.0, "", "1", "True"]),
                    st.tuples(st.integers(0, 3), st.integers(0, 3)), st.tuples(st.text(max_size=3)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", A.RECORD]), _VALUES, max_size=4), max_size=12))
def test_any_attributes_encode_as_the_public_encoder_has_them(attribute_sets) -> None:
    resource, scope = Resource({"service.name": "s"}), InstrumentationScope("batch_debug", "1")
    batch = [_span(n + 1, resource, scope, **attributes) for n, attributes in enumerate(attribute_sets)]
    assert by_span(batch) == by_batch(batch)
