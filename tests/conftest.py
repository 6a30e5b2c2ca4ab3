"""Shared fixtures: a real Jellyfin simulator on loopback and the debug pipeline.

The OpenTelemetry pipeline is process-wide (httpx is instrumented once), so
``debug_pipeline`` re-points it at a fresh folder and switch for each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import Pipeline, setup
from batch_debug.jellyfin.simulator import JellyfinSimulator

from support import API_KEY


@pytest.fixture(scope="session")
def recorded_spans(tmp_path_factory: pytest.TempPathFactory) -> InMemorySpanExporter:
    """Every span the pipeline records in this process (cleared per test)."""
    exporter = InMemorySpanExporter()
    pipeline = setup(tmp_path_factory.mktemp("pipeline-unused"))
    pipeline.provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def debug_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "debug"
    folder.mkdir()
    return folder


@pytest.fixture
def debug_pipeline(debug_dir: Path, recorded_spans: InMemorySpanExporter) -> Iterator[Pipeline]:
    """The pipeline writing to a fresh folder, debug switched on."""
    recorded_spans.clear()
    pipeline = setup(debug_dir, switch=DebugSwitch(debug_dir))
    pipeline.switch.enable(5)
    yield pipeline
    pipeline.flush(10)


@pytest.fixture
def off_pipeline(debug_dir: Path, recorded_spans: InMemorySpanExporter) -> Iterator[Pipeline]:
    """The pipeline writing to a fresh folder, debug off."""
    recorded_spans.clear()
    pipeline = setup(debug_dir, switch=DebugSwitch(debug_dir))
    yield pipeline
    pipeline.flush(10)


@pytest.fixture
def make_sim() -> Iterator:
    """Start simulators with a profile; all are stopped after the test."""
    started: list[JellyfinSimulator] = []

    def start(profile: str = "healthy", **kwargs) -> JellyfinSimulator:
        kwargs.setdefault("api_key", API_KEY)
        sim = JellyfinSimulator(profile=profile, **kwargs).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim) -> JellyfinSimulator:
    return make_sim("healthy")
