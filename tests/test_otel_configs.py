"""The configuration files we ship: otel-config.yaml through the SDK's own loader, and the
Collector examples checked for structure (no Collector binary installs here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from opentelemetry.configuration import load_config_file
from opentelemetry.configuration._resource import create_resource
from opentelemetry.configuration._tracer_provider import create_tracer_provider
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased

from batch_debug.collector.plugins import JobFileExporter
from batch_debug.collector.sampler import DebugSampler
from batch_debug.collector.switch import DebugSwitch
from support import REPO

OTEL_CONFIG = REPO / "otel-config.yaml"
COLLECTORS = [REPO / "examples" / "otel-collector.yaml", REPO / "examples" / "otel-collector-sidecar.yaml"]


def _exporters(provider):
    found = []
    for processor in provider._active_span_processor._span_processors:  # noqa: SLF001 - what the file built
        if isinstance(processor, SimpleSpanProcessor):
            found.append((processor, processor.span_exporter))
        elif isinstance(processor, BatchSpanProcessor):
            found.append((processor, processor._batch_processor._exporter))  # noqa: SLF001
    return found


@pytest.fixture
def built(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("OTEL_SERVICE_NAME", "poster-worker")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.example:4318")
    monkeypatch.delenv("APHRODITE_BATCH_DEBUG_URL", raising=False)
    monkeypatch.setattr("batch_debug.collector.plugins._switch", None)
    config = load_config_file(str(OTEL_CONFIG))
    provider = create_tracer_provider(config.tracer_provider, create_resource(config.resource))
    yield config, provider
    provider.shutdown()


def test_the_file_is_declarative_configuration_1_0(built) -> None:
    config, _ = built
    assert config.file_format == "1.0"


def test_the_resource_names_the_service_from_the_environment(built) -> None:
    config, _ = built
    assert create_resource(config.resource).attributes["service.name"] == "poster-worker"


def test_the_sampler_is_ours_under_parent_based(built, tmp_path: Path) -> None:
    _, provider = built
    assert isinstance(provider.sampler, ParentBased)
    root = provider.sampler._root  # noqa: SLF001
    assert isinstance(root, DebugSampler)
    assert isinstance(root.switch, DebugSwitch) and root.switch.directory == tmp_path / "jobs"


def test_the_job_file_writer_and_the_otlp_exporter_are_both_built(built, tmp_path: Path) -> None:
    _, provider = built
    found = _exporters(provider)
    assert [(type(p), type(e)) for p, e in found] == [(SimpleSpanProcessor, JobFileExporter),
                                                     (BatchSpanProcessor, OTLPSpanExporter)]
    assert found[0][1].writer.directory == tmp_path / "jobs"
    assert found[1][1]._endpoint == "http://collector.example:4318/v1/traces"  # noqa: SLF001


def test_without_an_endpoint_the_otlp_default_is_used(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_DIR", str(tmp_path))
    config = load_config_file(str(OTEL_CONFIG))
    provider = create_tracer_provider(config.tracer_provider)
    try:
        assert _exporters(provider)[1][1]._endpoint == "http://localhost:4318/v1/traces"  # noqa: SLF001
    finally:
        provider.shutdown()


@pytest.mark.parametrize("path", COLLECTORS, ids=[p.name for p in COLLECTORS])
def test_collector_configs_are_consistent(path: Path) -> None:
    config = yaml.safe_load(path.read_text())
    assert set(config) == {"receivers", "processors", "exporters", "service"}
    pipelines = config["service"]["pipelines"]
    used = {kind: set() for kind in ("receivers", "processors", "exporters")}
    for name, pipeline in pipelines.items():
        assert name.split("/")[0] == "traces", name
        assert pipeline["receivers"] and pipeline["exporters"], name
        for kind in used:
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{name} uses undefined {kind[:-1]} {component}"
                used[kind].add(component)
    for kind, names in used.items():
        assert names == set(config[kind]), f"{kind} defined but unused: {set(config[kind]) - names}"
    assert all(p["processors"][0] == "memory_limiter" for p in pipelines.values())  # first, as advised


def test_the_first_tier_routes_jobs_by_trace_id_and_copies_to_jaeger() -> None:
    config = yaml.safe_load(COLLECTORS[0].read_text())
    balancing = config["exporters"]["loadbalancing"]
    assert balancing["routing_key"] == "traceID"
    assert "otlp" in balancing["protocol"]  # the only protocol the loadbalancing exporter speaks
    assert balancing["resolver"]["static"]["hostnames"]
    assert config["exporters"]["otlphttp/jaeger"]["endpoint"].endswith(":4318")
    assert {"http", "grpc"} <= set(config["receivers"]["otlp"]["protocols"])


def test_the_second_tier_hands_spans_to_the_sidecars_receiver() -> None:
    config = yaml.safe_load(COLLECTORS[1].read_text())
    sidecar = config["exporters"]["otlphttp/sidecar"]
    assert sidecar["endpoint"] == "http://127.0.0.1:8000"  # otlphttp adds /v1/traces, our receiver
    assert sidecar["headers"]["Authorization"] == "Bearer ${env:APHRODITE_BATCH_DEBUG_TOKEN}"
    assert "grpc" in config["receivers"]["otlp"]["protocols"]  # what the first tier sends
