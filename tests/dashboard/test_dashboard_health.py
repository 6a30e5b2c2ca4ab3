"""/status shows job files that could not be written, reported by any process of the same user, and
nothing another local user plants in their place."""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from pathlib import Path

import pytest

from batch_debug.collector import health
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


# --- the private report folder ----------------------------------------------------------------------------
# The tests run as root, so "another user" is simulated: a folder chowned to nobody (65534), or one open
# to everyone (0777), stands where this user's report folder should be.

OTHER_UID = 65534


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A system temporary folder of the test's own and no XDG_RUNTIME_DIR: reports go to ``<tmp>/batch-debug-<uid>``."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)  # like /tmp: anyone may create a folder in it
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return tmp


def _fail(folder: Path, times: int = 1) -> None:
    health = WriteHealth()
    for _ in range(times):
        health.failed(folder, "writing the job file for j1", OSError(28, "No space left on device"))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "batch_debug.collector.health" and r.levelno == logging.WARNING]


def test_reports_live_in_a_folder_only_this_user_can_enter(tmp_path: Path, private_tmp: Path) -> None:
    folder = tmp_path / "debug"
    _fail(folder)
    root = private_tmp / f"batch-debug-{os.getuid()}"
    assert health.report_root() == root
    made = [root, *root.iterdir()]
    assert [(p.stat().st_uid, stat.S_IMODE(p.stat().st_mode)) for p in made] == [(os.getuid(), 0o700)] * 2
    report = made[1] / f"{os.getpid()}.json"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert [r["errors"] for r in health.read_reports(folder)] == [1]


def test_a_private_xdg_runtime_dir_is_preferred(tmp_path: Path, private_tmp: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert health.report_root() == runtime / "batch-debug"
    runtime.chmod(0o755)  # readable by others: not private, so not used
    assert health.report_root() == private_tmp / f"batch-debug-{os.getuid()}"


def _plant_report(folder: Path) -> None:
    """A 'write failing' report as another user would plant it, for a live process (pid 1)."""
    folder.mkdir(exist_ok=True)
    (folder / "1.json").write_text(json.dumps({"pid": 1, "kind": "write", "errors": 99, "failing": True,
                                               "last_error": "planted", "updated_at": "2026-01-01T00:00:00"}))


@pytest.mark.parametrize("which", ["root", "folder of the debug folder"])
@pytest.mark.parametrize("how", ["owned by another user", "open to everyone"])
def test_a_report_folder_that_is_not_ours_alone_is_refused(tmp_path: Path, private_tmp: Path, which: str,
                                                           how: str, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "debug"
    folder.mkdir()
    root = private_tmp / f"batch-debug-{os.getuid()}"
    if which == "root":
        planted = root
        root.mkdir()
    else:
        _fail(folder)  # the real root and folder exist
        planted = next(root.iterdir())
        for report in planted.iterdir():
            report.unlink()
    _plant_report(planted)
    if how == "owned by another user":
        os.chown(planted, OTHER_UID, OTHER_UID)
        planted.chmod(0o700)
    else:
        planted.chmod(0o777)
    client = create_app({"DEBUG_DIR": str(folder), "API_TOKEN": ""}).test_client()
    with caplog.at_level(logging.WARNING, logger="batch_debug.collector.health"):
        _fail(folder, times=3)
        assert health.read_reports(folder) == []
        assert client.get("/api/v1/batch-debug/status").get_json()["write_errors"] == []
    assert sorted(p.name for p in planted.rglob("*")) == ["1.json"]  # nothing written into it
    assert len(_warnings(caplog)) == 1 and str(planted) in _warnings(caplog)[0]


def test_a_link_at_the_report_name_is_neither_written_through_nor_read(tmp_path: Path, private_tmp: Path) -> None:
    folder = tmp_path / "debug"
    _fail(folder)
    reports = next((private_tmp / f"batch-debug-{os.getuid()}").iterdir())
    victim = tmp_path / "victim.txt"
    victim.write_text("the dashboard must not overwrite me")
    ours = reports / f"{os.getpid()}.json"
    ours.unlink()
    ours.symlink_to(victim)
    (reports / f".{os.getpid()}.tmp").symlink_to(victim)  # the temporary name older versions used
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps({"pid": 1, "kind": "write", "errors": 99, "failing": True,
                                   "last_error": "planted", "updated_at": "2026-01-01T00:00:00"}))
    (reports / "1.json").symlink_to(planted)
    _fail(folder, times=2)
    assert victim.read_text() == "the dashboard must not overwrite me"
    assert not ours.is_symlink()  # replaced by our report, not written through
    assert [(r["pid"], r["errors"]) for r in health.read_reports(folder)] == [(os.getpid(), 2)]
