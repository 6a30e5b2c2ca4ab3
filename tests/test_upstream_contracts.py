"""Each private upstream attribute batch-debug relies on, checked against the installed packages.

The product reaches them only through ``instrumentation.upstream`` (and, in the collector, which may not
import it, the OTLP JSON encoder's per-span functions through ``collector.span_encoding``); one test
per attribute here says, when an upgrade moves one, which attribute of which
package version is gone. The last tests check what the adapter does then: a
clear error naming the attribute, or its documented fallback.
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import httpx
import pytest
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import (
    is_http_instrumentation_enabled, suppress_http_instrumentation, suppress_instrumentation,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanKind

from batch_debug.collector import span_encoding
from batch_debug.instrumentation import upstream
from batch_debug.instrumentation.body import peek_error_body
from batch_debug.instrumentation.lean import LeanSpans
from batch_debug.instrumentation.upstream import UpstreamChanged, installed

from support import REPO


def _gone(attribute: str, distribution: str) -> str:
    return (f"{attribute} is gone or changed in {distribution} {installed(distribution)}: "
            f"update batch_debug/instrumentation/upstream.py (see its docstring for what relies on it)")


# -- one test per private attribute ------------------------------------------------------------------------

def test_tracer_provider_fans_out_through_active_span_processor() -> None:
    provider = TracerProvider()
    assert hasattr(provider, "_active_span_processor"), _gone(
        "TracerProvider._active_span_processor", "opentelemetry-sdk")
    lean = LeanSpans(provider, "contract")  # takes the fan-out now ...
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # ... and reaches a processor added later
    context = lean.context(INVALID_SPAN_CONTEXT)
    lean.deliver(lean.build("GET", context, INVALID_SPAN_CONTEXT, {}, kind=SpanKind.CLIENT, start_ns=1, end_ns=2))
    assert [span.name for span in exporter.get_finished_spans()] == ["GET"], _gone(
        "TracerProvider._active_span_processor (reaching processors added later)", "opentelemetry-sdk")


def test_parent_based_keeps_its_root_in_root() -> None:
    sampler = ParentBased(ALWAYS_OFF)
    assert getattr(sampler, "_root", None) is ALWAYS_OFF, _gone("ParentBased._root", "opentelemetry-sdk")
    assert upstream.root_sampler(sampler) is ALWAYS_OFF
    assert upstream.root_sampler(ALWAYS_OFF) is ALWAYS_OFF  # not a ParentBased: itself


@pytest.mark.parametrize("suppress", [None, suppress_instrumentation, suppress_http_instrumentation])
def test_suppression_keys_answer_as_the_public_check(suppress) -> None:
    assert upstream.SUPPRESSION_KEYS_FOUND, _gone(
        "_SUPPRESS_HTTP_INSTRUMENTATION_KEY / _SUPPRESS_INSTRUMENTATION_KEY / _SUPPRESS_INSTRUMENTATION_KEY_PLAIN "
        "(opentelemetry.instrumentation.utils)", "opentelemetry-instrumentation")
    if suppress is None:
        assert upstream.instrumentation_suppressed() is False
        assert is_http_instrumentation_enabled()
        return
    with suppress():
        assert upstream.instrumentation_suppressed() is True, _gone(
            f"the context keys {suppress.__name__} sets", "opentelemetry-instrumentation")
        assert not is_http_instrumentation_enabled()


def test_plain_suppression_key_is_a_string_key() -> None:
    # Older instrumentations set the plain string key; the public check honours it, so must we.
    token = otel_context.attach(otel_context.set_value("suppress_instrumentation", True))
    try:
        assert upstream.instrumentation_suppressed() is True, _gone(
            "_SUPPRESS_INSTRUMENTATION_KEY_PLAIN", "opentelemetry-instrumentation")
        assert not is_http_instrumentation_enabled()
    finally:
        otel_context.detach(token)


def test_httpx_headers_list_holds_raw_lower_value_triples() -> None:
    headers = httpx.Headers([("Server", "Kestrel"), ("X-Emby-Token", "abc"), ("server", "again")])
    items = getattr(headers, "_list", None)
    expected = [(name, name.lower(), value) for name, value in headers.raw]
    assert items == expected, _gone("Headers._list as (raw name, lower-case name, value)", "httpx")
    assert upstream.header_items(headers) is items  # the fast path is the one taken


def test_response_stream_wraps_the_httpcore_stream(sim) -> None:
    with httpx.HTTPTransport() as transport:
        response = transport.handle_request(httpx.Request("GET", sim.url + "/Items/no-key"))
        assert hasattr(response.stream, "_httpcore_stream"), _gone("ResponseStream._httpcore_stream", "httpx")
        assert upstream.httpcore_stream(response.stream) is not None
        snippet = peek_error_body(response.stream)  # replaces _httpcore_stream with a replay
        body = response.read()
    assert response.status_code == 401
    assert snippet == body.decode() == "Unauthorized", _gone(
        "ResponseStream._httpcore_stream (read through on iteration)", "httpx")


_WRAPPER_PROBE = textwrap.dedent("""
    import json, httpx
    plain = httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from batch_debug.instrumentation.upstream import UpstreamChanged, uninstrumented
    before = uninstrumented(httpx.HTTPTransport, "handle_request") is plain[0]
    HTTPXClientInstrumentor().instrument()
    found = (uninstrumented(httpx.HTTPTransport, "handle_request"),
             uninstrumented(httpx.AsyncHTTPTransport, "handle_async_request"))
    out = {"before": before, "wrapped": httpx.HTTPTransport.handle_request is not plain[0],
           "unwrapped": [f is p for f, p in zip(found, plain)]}
    def replaced(self, request): return None
    httpx.HTTPTransport.handle_request = replaced
    try:
        uninstrumented(httpx.HTTPTransport, "handle_request")
    except UpstreamChanged as exc:
        out["error"] = str(exc)
    print(json.dumps(out))
""")


def test_instrumentor_wraps_transport_methods_in_a_wrapt_wrapper() -> None:
    """In a fresh interpreter: instrumenting swaps httpx's process-wide classes, which this one shares."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER_PROBE], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    versions = f"opentelemetry-instrumentation-httpx {installed('opentelemetry-instrumentation-httpx')}, " \
               f"wrapt {installed('wrapt')}"
    assert out["before"] and out["wrapped"], (
        f"the instrumentor no longer replaces HTTPTransport.handle_request ({versions})")
    assert out["unwrapped"] == [True, True], (
        f"__wrapped__ of the instrumentor's wrapt wrapper is not httpx's own method ({versions})")
    assert "HTTPTransport.handle_request" in out["error"] and "__wrapped__" in out["error"]


@pytest.mark.parametrize("module,name", [
    ("opentelemetry.exporter.otlp.json.common._internal.trace_encoder", "_encode_span"),
    ("opentelemetry.exporter.otlp.json.common._internal", "_encode_resource"),
    ("opentelemetry.exporter.otlp.json.common._internal", "_encode_instrumentation_scope"),
    ("opentelemetry.exporter.otlp.json.common._internal", "_encode_key_value"),
])
def test_the_json_encoders_per_span_functions_are_there(module: str, name: str) -> None:
    """``collector.span_encoding`` (the collector's one place for private names) encodes a span at a time."""
    assert callable(getattr(importlib.import_module(module), name, None)), _gone(
        f"{module}.{name}", "opentelemetry-exporter-otlp-json-common")
    sample = span_encoding._sample_batch()
    assert span_encoding.by_span(sample) == span_encoding.by_batch(sample), _gone(
        "the per-span encoding's equality with encode_spans", "opentelemetry-exporter-otlp-json-common")


def test_a_span_copy_with_the_stand_in_attributes_reads_them() -> None:
    """``span_encoding`` lays a span out with stand-in attributes by setting ``ReadableSpan._attributes`` on a
    copy: were that not how the SDK keeps them, every attribute would be encoded as before (slower)."""
    span = span_encoding._sample_batch()[0]
    copy = span_encoding._with_stand_in(span)
    assert dict(copy.attributes) == span_encoding._STAND_IN, _gone(
        "ReadableSpan._attributes behind ReadableSpan.attributes", "opentelemetry-sdk")
    assert copy.name == span.name and copy.get_span_context() == span.get_span_context() and span.attributes["s"] == "x"


# -- what the adapter does when an attribute is gone -------------------------------------------------------

def test_a_missing_active_span_processor_is_named() -> None:
    with pytest.raises(UpstreamChanged, match=r"TracerProvider\._active_span_processor is not there in "
                                              r"opentelemetry-sdk \d"):
        upstream.span_processor_of(SimpleNamespace())  # type: ignore[arg-type]


def test_a_missing_parent_based_root_is_named() -> None:
    sampler = ParentBased(ALWAYS_OFF)
    del sampler._root  # noqa: SLF001 - standing in for a release that renamed it
    with pytest.raises(UpstreamChanged, match=r"ParentBased\._root is not there in opentelemetry-sdk \d"):
        upstream.root_sampler(sampler)


def test_headers_without_their_list_fall_back_to_raw() -> None:
    headers = SimpleNamespace(raw=[(b"Server", b"Kestrel"), (b"Retry-After", b"3")])
    assert upstream.header_items(headers) == [  # type: ignore[arg-type]
        (b"Server", b"server", b"Kestrel"), (b"Retry-After", b"retry-after", b"3")]


def test_the_public_suppression_check_is_the_fallback() -> None:
    assert upstream._suppressed_by_public_api() is False  # noqa: SLF001
    with suppress_http_instrumentation():
        assert upstream._suppressed_by_public_api() is True  # noqa: SLF001


def test_a_response_stream_without_its_httpcore_stream_is_warned_about(monkeypatch, caplog) -> None:
    monkeypatch.setattr(upstream, "_warned_stream", False)
    ResponseStream = type("ResponseStream", (), {})  # httpx's class, as a release without the attribute
    with caplog.at_level(logging.WARNING, logger=upstream.__name__):
        assert upstream.httpcore_stream(ResponseStream()) is None
        assert upstream.httpcore_stream(ResponseStream()) is None
    warnings = [r.getMessage() for r in caplog.records if r.name == upstream.__name__]
    assert len(warnings) == 1 and "ResponseStream._httpcore_stream is not there in httpx" in warnings[0]
    assert upstream.httpcore_stream(iter([b"x"])) is None  # another stream type: left alone, quietly


def test_the_requests_instrumentors_wrapper_keeps_the_original_send() -> None:
    """opentelemetry-instrumentation-requests 0.66b1: its ``Session.send`` wrapper is marked and keeps
    the original in ``__wrapped__`` (``upstream.requests_uninstrumented_send``)."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from requests import Session

    from batch_debug.instrumentation import current_pipeline, requests_setup
    from batch_debug.instrumentation.pipeline import switch_is_on

    requests_setup.uninstrument()
    plain = Session.send
    RequestsInstrumentor().instrument()
    try:
        stock = Session.send
        assert getattr(stock, "opentelemetry_instrumentation_requests_applied", False), \
            _gone("the Session.send mark", "opentelemetry-instrumentation-requests")
        assert upstream.requests_uninstrumented_send(stock) is plain
    finally:
        RequestsInstrumentor().uninstrument()
        pipeline = current_pipeline()
        assert pipeline is not None
        requests_setup.instrument(pipeline.provider, is_on=switch_is_on)


def test_a_requests_wrapper_without_its_original_is_named() -> None:
    def wrapper(*args: object) -> None: ...

    wrapper.opentelemetry_instrumentation_requests_applied = True  # type: ignore[attr-defined]
    with pytest.raises(UpstreamChanged, match=r"Session\.send\.__wrapped__ is not there in "
                                              r"opentelemetry-instrumentation-requests"):
        upstream.requests_uninstrumented_send(wrapper)
    assert upstream.requests_uninstrumented_send(len) is len  # not instrumented: itself
