"""Fixtures for the dashboard tests: the app, its test client, real job files.

Job files are made the real way: the reference worker runs against a real
``JellyfinSimulator`` (``mixed`` profile: 400, 404, 429, 503 and persistent
500s) with the instrumentation pipeline recording, once per session; tests
copy that file into their own debug folder under the names they need.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from support import NO_WAIT as FAST
from batch_debug.collector import config, jobfile
from batch_debug.collector.switch import DebugSwitch
from batch_debug.dashboard.app import create_app
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.simulator import JellyfinSimulator
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from dashboard_helpers import RECORDED_JOB, SIM_KEY


@pytest.fixture(scope="session")
def mixed_sim() -> Iterator[JellyfinSimulator]:
    """A Jellyfin simulator with every kind of failure, for the whole session."""
    with JellyfinSimulator(profile="mixed", seed=42, api_key=SIM_KEY) as sim:
        yield sim


@pytest.fixture(scope="session")
def healthy_sim() -> Iterator[JellyfinSimulator]:
    with JellyfinSimulator(profile="healthy", seed=7, api_key=SIM_KEY) as sim:
        yield sim


@pytest.fixture(scope="session")
def recorded_job_file(tmp_path_factory: pytest.TempPathFactory, mixed_sim: JellyfinSimulator) -> Path:
    """A job file written by the real pipeline for a 10-item batch on the mixed simulator."""
    folder = tmp_path_factory.mktemp("recorded")
    pipeline = setup(folder, switch=DebugSwitch(folder))
    pipeline.switch.enable(5)
    try:
        result = run_job(WorkerConfig(server=mixed_sim.url, api_key=SIM_KEY, **FAST),
                         mixed_sim.demo_item_ids(10), job_id=RECORDED_JOB)
    finally:
        pipeline.switch.disable()
    assert result.job_file is not None, "the pipeline wrote no job file"
    return result.job_file


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "debug"
    folder.mkdir()
    return folder


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No debug, token or Jellyfin settings leak in from the developer's shell."""
    for name in (config.APHRODITE_BATCH_DEBUG, config.APHRODITE_BATCH_DEBUG_DIR, config.APHRODITE_BATCH_DEBUG_TOKEN,
                 config.APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS, config.JELLYFIN_URL, config.JELLYFIN_API_KEY):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_app(job_dir: Path, clean_env: None) -> Callable[..., Flask]:
    """Build an app on the test's debug folder; keyword settings override."""

    def make(**settings: Any) -> Flask:
        base: dict[str, Any] = {"TESTING": True, "DEBUG_DIR": str(job_dir), "API_TOKEN": None,
                                "JELLYFIN_URL": None, "JELLYFIN_API_KEY": None}
        return create_app({**base, **settings})

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def add_job(job_dir: Path, recorded_job_file: Path) -> Callable[..., Path]:
    """Put a copy of the recorded job file into the test's folder.

    ``add_job("a", when=datetime(...), mutate=fn)`` writes ``job_a_<stamp>.json``
    with the job id rewritten and ``fn(document)`` applied first.
    """
    original = json.loads(recorded_job_file.read_text(encoding="utf-8"))

    def add(job_id: str = RECORDED_JOB, when: datetime | None = None,
            mutate: Callable[[dict[str, Any]], None] | None = None) -> Path:
        document = json.loads(json.dumps(original))
        document["job_id"] = document["summary"]["job_id"] = job_id
        if mutate is not None:
            mutate(document)
        path = job_dir / jobfile.filename(job_id, when or datetime.now(timezone.utc))
        # Compact, as the writer does, so the fast head reader is exercised too.
        path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        return path

    return add
