"""/status shows job files that could not be written, reported by any process."""

from __future__ import annotations

import os
from pathlib import Path

from batch_debug.collector.health import WriteHealth
from batch_debug.dashboard.app import create_app


def test_status_lists_write_failures_of_live_processes(tmp_path: Path) -> None:
    folder = tmp_path / "debug"
    folder.mkdir()
    client = create_app({"DEBUG_DIR": str(folder), "API_TOKEN": ""}).test_client()
    assert client.get("/api/v1/batch-debug/status").get_json()["write_errors"] == []
    WriteHealth().failed(folder, "writing the job file for j1", OSError(28, "No space left on device"))
    reports = client.get("/api/v1/batch-debug/status").get_json()["write_errors"]
    assert [(r["pid"], r["count"], r["failing"]) for r in reports] == [(os.getpid(), 1, True)]
    assert "No space left on device" in reports[0]["last_error"]


def test_status_survives_a_debug_folder_that_is_a_file(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    client = create_app({"DEBUG_DIR": str(not_a_folder), "API_TOKEN": ""}).test_client()
    answer = client.get("/api/v1/batch-debug/status")
    assert answer.status_code == 200
    assert answer.get_json()["recent_debug_files"] == []
