"""Spans as any OTLP viewer reads them: the stable HTTP client conventions on request spans (ours and
the stock httpx ones), readable item and request names, the job span's status, and service.name.

Real jobs against the bundled simulator through the real worker; the spans are the ones the
pipeline hands its processors (``recorded_spans``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest
from opentelemetry.configuration import load_config_file
from opentelemetry.configuration._resource import create_resource
from opentelemetry.trace import SpanKind, StatusCode

from batch_debug.collector import attributes as A, jobfile
from batch_debug.collector.routes import url_template
from batch_debug.instrumentation import item_span, job_span
from batch_debug.instrumentation.parts import worker_resource
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT as FAST, REPO

IMAGE_TEMPLATE = "/Items/{itemId}/Images/Primary"


def _ours(spans, kind=SpanKind.CLIENT):
    return [s for s in spans if s.kind == kind and s.instrumentation_scope.name == A.SCOPE_NAME
            and (kind != SpanKind.INTERNAL or A.ITEM_ID in (s.attributes or {}))]


def _job_span(spans, job_id: str):
    [span] = [s for s in spans if (s.attributes or {}).get(A.JOB_ID) == job_id]
    return span


@pytest.mark.parametrize(("path", "template"), [
    ("/Items/0a1b2c3d4e5f60718293a4b5c6d7e8f9/Images/Primary", IMAGE_TEMPLATE),
    ("/jellyfin/Items/x/Images/Backdrop/0/", "/Items/{itemId}/Images/Backdrop/{imageIndex}"),
    ("/Items/x/Images/NotAType", "/Items/{itemId}/Images/{imageType}"),
    ("/Users/u/Items/x", "/Users/{userId}/Items/{itemId}"),
    ("/Items/x", "/Items/{itemId}"),
    ("/System/Info/Public", "/System/Info/Public"),
    ("/no/such/route", None),
    ("/Items/x/Images/", None),
    ("", None),
])
def test_url_templates_are_jellyfin_routes_or_none(path, template) -> None:
    assert url_template(path) == template


def test_every_request_span_of_a_mixed_job_follows_the_http_client_conventions(debug_pipeline, recorded_spans,
                                                                               make_sim) -> None:
    sim = make_sim("mixed", seed=5)
    ids = sim.demo_item_ids(20, seed=5)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=2, **FAST), ids, "semconv-job")
    debug_pipeline.flush(10)
    spans = recorded_spans.get_finished_spans()
    requests = _ours(spans)
    host, port = urlsplit(sim.url).hostname, urlsplit(sim.url).port
    statuses = {s.attributes[A.HTTP_STATUS_NEW] for s in requests}
    assert {200, 404, 400, 500} <= statuses, statuses  # the profile's every kind of answer is covered
    images = 0
    for span in requests:
        attrs = span.attributes
        record = json.loads(attrs[A.RECORD])
        method, status = attrs[A.HTTP_METHOD_NEW], attrs[A.HTTP_STATUS_NEW]
        assert attrs[A.SERVER_ADDRESS] == host and attrs[A.SERVER_PORT] == port
        assert attrs[A.PROTOCOL_VERSION] == "1.1"
        assert attrs[A.BODY_SIZE] == record["body_bytes"]
        assert attrs[A.USER_AGENT].startswith("python-httpx/")
        assert attrs[A.HTTP_URL_NEW].startswith(sim.url + "/")
        assert API_KEY not in attrs[A.HTTP_URL_NEW]
        template = attrs.get(A.URL_TEMPLATE)
        assert span.name == (f"{method} {template}" if template else method)
        if "/Images/Primary" in attrs[A.HTTP_URL_NEW]:
            images += 1
            assert template == IMAGE_TEMPLATE and span.name == f"{method} {IMAGE_TEMPLATE}"
        if status >= 400:
            assert attrs[A.ERROR_TYPE] == str(status)
            assert span.status.status_code == StatusCode.ERROR and span.status.description is None
        else:
            assert A.ERROR_TYPE not in attrs and span.status.status_code == StatusCode.UNSET
    assert images > 0
    # The job file's requests are built from the same spans and did not change shape.
    data = jobfile.load(debug_pipeline.job_file("semconv-job"))
    assert len(data["requests"]) == len(requests)
    assert all(A.SERVER_ADDRESS not in record for record in data["requests"])


def test_body_size_is_the_bytes_received_and_unknown_routes_are_named_by_method(debug_pipeline, recorded_spans,
                                                                                sim) -> None:
    item = sim.item_ids[0]
    with job_span("sizes"), httpx.Client(headers={"User-Agent": "poster-bot/2"}) as client:
        with item_span(item):
            poster = client.get(f"{sim.url}/Items/{item}/Images/Primary")
            other = client.get(f"{sim.url}/no/such/{item}")
    debug_pipeline.flush(10)
    by_url = {s.attributes[A.HTTP_URL_NEW]: s for s in _ours(recorded_spans.get_finished_spans())}
    image = by_url[f"{sim.url}/Items/{item}/Images/Primary"]
    assert poster.status_code == 200 and len(poster.content) > 0
    assert image.attributes[A.BODY_SIZE] == len(poster.content) == int(poster.headers["content-length"])
    assert image.attributes[A.USER_AGENT] == "poster-bot/2"
    unknown = by_url[f"{sim.url}/no/such/{item}"]
    assert unknown.name == "GET" and A.URL_TEMPLATE not in unknown.attributes
    assert unknown.attributes[A.BODY_SIZE] == len(other.content)


def test_exceptions_describe_the_phase_and_name_the_error_type(debug_pipeline, recorded_spans, make_sim) -> None:
    sim = make_sim("healthy", shapes=Shapes(body_stall_every=1, stall_seconds=1.0))
    item = sim.item_ids[0]
    with job_span("broken"), httpx.Client(timeout=0.2) as client:
        with item_span(item):
            with pytest.raises(httpx.ReadTimeout):
                client.get(f"{sim.url}/Items/{item}/Images/Primary")
            with pytest.raises(httpx.ConnectError):
                client.get("http://127.0.0.1:9/System/Info/Public")
    debug_pipeline.flush(10)
    by_name = {s.name: s for s in _ours(recorded_spans.get_finished_spans())}
    stalled = by_name[f"GET {IMAGE_TEMPLATE}"]
    assert stalled.status.status_code == StatusCode.ERROR
    assert stalled.status.description == "ReadTimeout while reading the body"
    assert stalled.attributes[A.ERROR_TYPE] == "ReadTimeout"
    assert stalled.attributes[A.HTTP_STATUS_NEW] == 200 and 0 < stalled.attributes[A.BODY_SIZE]
    refused = by_name["GET /System/Info/Public"]
    assert refused.status.description == "ConnectError while connecting"
    assert refused.attributes[A.ERROR_TYPE] == "ConnectError"
    assert refused.attributes[A.SERVER_PORT] == 9 and A.BODY_SIZE not in refused.attributes


def test_a_job_with_failed_items_is_an_error_and_its_items_are_named(debug_pipeline, recorded_spans,
                                                                     make_sim) -> None:
    sim = make_sim("mixed", seed=7)
    ids = sim.demo_item_ids(10, seed=7)
    result = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), ids, "failing-items")
    debug_pipeline.flush(10)
    spans = recorded_spans.get_finished_spans()
    assert result.failed > 0
    job = _job_span(spans, "failing-items")
    assert job.status.status_code == StatusCode.ERROR
    assert job.status.description == f"{result.failed} of 10 items failed"
    assert job.attributes[A.JOB_ITEMS_FAILED] == result.failed
    items = _ours(spans, SpanKind.INTERNAL)
    assert sorted(s.attributes[A.ITEM_ID] for s in items) == sorted(ids)
    for span in items:
        assert span.name == f"poster item {span.attributes[A.ITEM_ID]}"
        assert span.attributes[A.ITEM_OUTCOME] in ("succeeded", "failed")
    assert sum(s.attributes[A.ITEM_OUTCOME] == "failed" for s in items) == result.failed
    data = jobfile.load(debug_pipeline.job_file("failing-items"))
    assert data["complete"] is True and data["summary"]["items_failed"] == result.failed  # the job ended well


def test_a_job_without_failed_items_stays_unset(debug_pipeline, recorded_spans, sim) -> None:
    result = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **FAST), sim.item_ids[:3], "clean-items")
    debug_pipeline.flush(10)
    job = _job_span(recorded_spans.get_finished_spans(), "clean-items")
    assert result.failed == 0
    assert job.status.status_code == StatusCode.UNSET and A.JOB_ITEMS_FAILED not in job.attributes


def test_a_job_that_raised_keeps_its_exception_as_the_description(debug_pipeline, recorded_spans) -> None:
    with pytest.raises(RuntimeError), job_span("raised"):
        with item_span("x" * 100) as item:
            item.fail("no poster")
        raise RuntimeError("disk full")
    job = _job_span(recorded_spans.get_finished_spans(), "raised")
    assert job.status.description == "RuntimeError: disk full"
    [item_of_job] = _ours(recorded_spans.get_finished_spans(), SpanKind.INTERNAL)
    assert item_of_job.name == "poster item " + "x" * 61 + "..."  # bounded; the whole id is an attribute
    assert item_of_job.attributes[A.ITEM_ID] == "x" * 100


@pytest.mark.parametrize("auth", ["header", "query", "legacy-header"])
def test_no_span_attribute_name_or_status_carries_the_key(debug_pipeline, recorded_spans, make_sim, auth) -> None:
    sim = make_sim("mixed", seed=9)
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, auth=auth, **FAST), sim.demo_item_ids(8, seed=9),
            f"keyed-{auth}")
    with job_span("agent"), httpx.Client(headers={"User-Agent": f'bot Token="{API_KEY}"'}) as client:
        client.get(f"{sim.url}/System/Info/Public")
    debug_pipeline.flush(10)
    spans = recorded_spans.get_finished_spans()
    assert _ours(spans)
    for span in spans:
        text = json.dumps([span.name, dict(span.attributes or {}), span.status.description], default=str)
        assert API_KEY not in text, span.name


def test_stock_spans_outside_jobs_get_the_same_attributes(debug_pipeline, recorded_spans, sim) -> None:
    item = sim.item_ids[0]
    response = httpx.get(f"{sim.url}/Items/{item}/Images/Primary", headers={"User-Agent": "poster-bot/2"})
    debug_pipeline.flush(10)
    [span] = [s for s in recorded_spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert span.instrumentation_scope.name != A.SCOPE_NAME  # the stock instrumentation's, with our hooks
    attrs = span.attributes
    assert span.name == f"GET {IMAGE_TEMPLATE}" and attrs[A.URL_TEMPLATE] == IMAGE_TEMPLATE
    assert attrs[A.SERVER_ADDRESS] == "127.0.0.1" and attrs[A.SERVER_PORT] == urlsplit(sim.url).port
    assert attrs[A.PROTOCOL_VERSION] == "1.1" and attrs[A.HTTP_STATUS_NEW] == 200
    assert attrs[A.BODY_SIZE] == len(response.content) and attrs[A.USER_AGENT] == "poster-bot/2"
    assert attrs[A.HTTP_METHOD_NEW] == "GET" and attrs[A.HTTP_URL_NEW] == str(response.url)
    refused = httpx.get(f"{sim.url}/Items/{'0' * 32}")  # no key
    debug_pipeline.flush(10)
    [failed] = [s for s in recorded_spans.get_finished_spans() if s.kind == SpanKind.CLIENT and s is not span]
    assert refused.status_code == 401 and failed.attributes[A.ERROR_TYPE] == "401"
    assert failed.status.status_code == StatusCode.ERROR and failed.status.description is None


def test_service_name_defaults_to_batch_worker_and_the_environment_overrides_it(monkeypatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert worker_resource().attributes["service.name"] == "batch-worker"
    yaml = load_config_file(str(REPO / "otel-config.yaml"))
    assert create_resource(yaml.resource).attributes["service.name"] == "batch-worker"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,deployment.environment=test")
    assert worker_resource().attributes["service.name"] == "from-attributes"
    yaml = load_config_file(str(REPO / "otel-config.yaml"))
    assert dict(create_resource(yaml.resource).attributes)["deployment.environment"] == "test"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "poster-worker")
    assert worker_resource().attributes["service.name"] == "poster-worker"  # an explicit name wins


@pytest.mark.parametrize("name", [None, "poster-worker"])
def test_setup_names_the_service_in_a_fresh_process(tmp_path, name) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if name is not None:
        env["OTEL_SERVICE_NAME"] = name
    script = ("from opentelemetry import trace; from batch_debug.instrumentation import setup; "
              f"setup({str(tmp_path)!r}); print(trace.get_tracer_provider().resource.attributes['service.name'])")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                         check=True)
    assert out.stdout.strip() == (name or "batch-worker"), out.stderr[-2000:]
