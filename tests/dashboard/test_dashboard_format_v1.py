"""A job file written by format version 1 (checked in) still opens everywhere: API, job list, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from batch_debug.collector import jobfile
from batch_debug.dashboard.cli import main
from dashboard_helpers import API

V1 = Path(__file__).resolve().parent.parent / "data" / "job_v1-fixture_20261129_144406.json"
JOB = "v1-fixture"


def test_the_checked_in_file_is_version_1() -> None:
    data = json.loads(V1.read_text())
    assert data["format_version"] == 1 and "findings" not in data["summary"]


def test_a_version_1_file_opens_in_the_api(make_app, job_dir: Path) -> None:
    shutil.copy(V1, job_dir / V1.name)
    client = make_app().test_client()
    summary = client.get(f"{API}/job/{JOB}/summary")
    assert summary.status_code == 200
    assert summary.get_json()["recommendations"] == json.loads(V1.read_text())["summary"]["recommendations"]
    listed = client.get(f"{API}/jobs").get_json()["jobs"]
    assert [(j["job_id"], j["total_requests"]) for j in listed] == [(JOB, 14)]
    assert client.get(f"{API}/job/{JOB}/full-log").data == V1.read_bytes()
    trace = client.get(f"{API}/job/{JOB}/trace").get_json()
    assert list(trace) == ["resourceSpans"] and trace["resourceSpans"]
    status = client.get(f"{API}/status").get_json()
    assert [f["filename"] for f in status["recent_debug_files"]] == [V1.name]


def test_a_version_1_file_renders_in_the_cli(tmp_path: Path) -> None:
    shutil.copy(V1, tmp_path / V1.name)
    result = CliRunner().invoke(main, ["summary", JOB, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Batch debug summary: job v1-fixture" in result.output
    assert "Recommendations" in result.output and "404 Not Found" in result.output
    head = jobfile.load_head(tmp_path / V1.name)
    assert head["summary"]["total_requests"] == 14
