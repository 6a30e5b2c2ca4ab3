"""Shared fixtures: a real Jellyfin simulator on loopback and the debug pipeline.

The OpenTelemetry pipeline is process-wide (httpx is instrumented for one
provider at a time). One default pipeline is installed for the session, in
strict setup mode (a second ``setup()`` whose arguments would be ignored
raises); ``debug_pipeline`` re-points it at a fresh folder and switch for a
test, and after every test :func:`isolated_pipeline` makes it current again,
on an off switch over an empty folder, so no test records into another's
folder or with another's switch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batch_debug.collector.switch import DebugSwitch
from batch_debug.collector.writer_env import env_max_bytes
from batch_debug.instrumentation import Pipeline, setup
from batch_debug.instrumentation.pipeline import current_pipeline, install, strict_setup
from batch_debug.jellyfin.simulator import JellyfinSimulator

from support import API_KEY


@pytest.fixture(scope="session")
def default_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The session's pipeline, installed first and in strict setup mode; off until a test turns it on."""
    strict_setup(True)
    folder = tmp_path_factory.mktemp("pipeline-default")
    return setup(folder, switch=DebugSwitch(folder, environ={}))


@pytest.fixture(autouse=True)
def isolated_pipeline(default_pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """After each test: pending files written where the test meant them, then the default pipeline
    current again with an off switch over a fresh empty folder, its quota and secrets as at the start."""
    yield default_pipeline
    current = current_pipeline()
    if current is not None and current is not default_pipeline:
        current.flush(10)
    default_pipeline.flush(10)
    install(default_pipeline)
    idle = tmp_path_factory.mktemp("pipeline-idle")
    default_pipeline.point_at(idle, DebugSwitch(idle, environ={}))
    default_pipeline.secrets.clear()
    if default_pipeline.writer is not None:
        default_pipeline.writer.max_bytes = env_max_bytes()
    strict_setup(True)


@pytest.fixture(scope="session")
def recorded_spans(default_pipeline: Pipeline) -> InMemorySpanExporter:
    """Every span the default pipeline records in this process (cleared per test)."""
    exporter = InMemorySpanExporter()
    default_pipeline.provider.add_span_processor(SimpleSpanProcessor(exporter))
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
