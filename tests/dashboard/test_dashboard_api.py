"""The switch, status, cleanup and error contract of the API (Flask test client); its token: test_dashboard_token."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from batch_debug.collector import progress
from batch_debug.collector.switch import STATE_FILENAME, DebugSwitch
from dashboard_helpers import API, error_of


def test_status_starts_off_with_nothing_recorded(client, job_dir) -> None:
    body = client.get(f"{API}/status").get_json()
    assert body == {"debug_enabled": False, "source": None, "expires_at": None, "remaining_seconds": None,
                    "active_jobs_with_debug": [], "recent_debug_files": [], "debug_files_total": 0,
                    "debug_dir": str(job_dir.resolve()), "write_errors": [], "export_errors": []}


def test_enable_turns_debug_on_for_other_switches_on_the_folder(client, job_dir) -> None:
    answer = client.post(f"{API}/enable", json={"duration_minutes": 5})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["enabled"] is True and body["source"] == "api"
    assert 295 <= body["remaining_seconds"] <= 300
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=4, seconds=55) < expires - datetime.now(timezone.utc) <= timedelta(minutes=5)
    assert DebugSwitch(job_dir).is_on()  # what a worker process sharing the folder sees
    status = client.get(f"{API}/status").get_json()
    assert status["debug_enabled"] is True and status["source"] == "api"
    assert status["expires_at"] == body["expires_at"]


@pytest.mark.parametrize("kwargs", [{}, {"data": ""}, {"json": {}}, {"json": {"duration_minutes": None}},
                                    {"data": "   ", "content_type": "application/json"}],
                         ids=["no-body", "empty", "empty-object", "null", "blank-json"])
def test_enable_without_duration_means_30_minutes(client, kwargs) -> None:
    answer = client.post(f"{API}/enable", **kwargs)
    assert answer.status_code == 200
    assert 1795 <= answer.get_json()["remaining_seconds"] <= 1800


@pytest.mark.parametrize("duration", [0, 1441, -5, "abc", "30", True, 1.5, [30], {"m": 1}])
def test_enable_rejects_bad_durations_with_400(client, job_dir, duration) -> None:
    answer = client.post(f"{API}/enable", json={"duration_minutes": duration})
    assert answer.status_code == 400
    assert "duration_minutes" in error_of(answer)["message"]
    assert not DebugSwitch(job_dir).is_on()


@pytest.mark.parametrize("body", ["abc", "[30]", '"x"', "30", "{broken", "null"])
def test_enable_rejects_bodies_that_are_not_json_objects(client, body) -> None:
    answer = client.post(f"{API}/enable", data=body, content_type="application/json")
    assert answer.status_code == 400
    assert "JSON object" in error_of(answer)["message"]


def test_enable_accepts_the_edges_1_and_1440(client) -> None:
    assert client.post(f"{API}/enable", json={"duration_minutes": 1}).get_json()["remaining_seconds"] <= 60
    assert client.post(f"{API}/enable", json={"duration_minutes": 1440}).get_json()["remaining_seconds"] > 86000


def test_disable_turns_debug_off_everywhere(client, job_dir) -> None:
    client.post(f"{API}/enable", json={"duration_minutes": 10})
    answer = client.post(f"{API}/disable")
    assert answer.status_code == 200
    assert answer.get_json() == {"enabled": False, "source": None, "expires_at": None, "remaining_seconds": None}
    assert not DebugSwitch(job_dir).is_on()
    assert client.get(f"{API}/status").get_json()["debug_enabled"] is False


def test_status_lists_the_20_newest_files_first(client, add_job) -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n in range(25):
        add_job(f"job-{n:02d}", when=start + timedelta(minutes=n))
    body = client.get(f"{API}/status").get_json()
    files = body["recent_debug_files"]
    assert [f["job_id"] for f in files] == [f"job-{n:02d}" for n in range(24, 4, -1)]
    assert body["debug_files_total"] == 25
    first = files[0]
    assert first["filename"] == "job_job-24_20260101_002400.json"
    assert first["created_at"] == "2026-01-01T00:24:00+00:00"
    assert first["size_bytes"] > 1000


def test_status_shows_progress_of_running_jobs(client, job_dir) -> None:
    running = progress.JobProgress("live-job", items_total=8)
    running.items_done, running.items_failed, running.requests, running.failed_requests = 3, 1, 10, 2
    progress.publish(job_dir, running)  # as the pipeline in a worker process does
    active = client.get(f"{API}/status").get_json()["active_jobs_with_debug"]
    assert len(active) == 1
    job = active[0]
    assert (job["job_id"], job["pid"], job["items_total"], job["items_done"]) == ("live-job", os.getpid(), 8, 3)
    assert (job["items_failed"], job["requests"], job["failed_requests"]) == (1, 10, 2)
    progress.retire(job_dir, "live-job")
    assert client.get(f"{API}/status").get_json()["active_jobs_with_debug"] == []


def test_cleanup_deletes_only_job_files_older_than_the_age(client, job_dir, add_job) -> None:
    client.post(f"{API}/enable", json={"duration_minutes": 5})
    now = datetime.now(timezone.utc)
    old = add_job("old-job", when=now - timedelta(days=10))
    new = add_job("new-job", when=now - timedelta(days=1))
    bystanders = [job_dir / "notes.txt", job_dir / "job_x.json.bak", job_dir / "job_bad name_20200101_000000.json"]
    for path in bystanders:
        path.write_text("keep me")
    old_size = old.stat().st_size
    answer = client.delete(f"{API}/cleanup?days=7")
    assert answer.status_code == 200
    assert answer.get_json() == {"deleted_files": 1, "total_size_freed_bytes": old_size, "days": 7}
    assert not old.exists() and new.exists()
    assert all(path.exists() for path in bystanders)
    assert (job_dir / STATE_FILENAME).exists()
    assert client.get(f"{API}/status").get_json()["debug_enabled"] is True


def test_cleanup_reports_the_bytes_it_freed(client, add_job) -> None:
    now = datetime.now(timezone.utc)
    sizes = [add_job(f"gone-{n}", when=now - timedelta(days=30 + n)).stat().st_size for n in range(3)]
    answer = client.delete(f"{API}/cleanup?days=0").get_json()
    assert answer == {"deleted_files": 3, "total_size_freed_bytes": sum(sizes), "days": 0}
    assert client.get(f"{API}/status").get_json()["recent_debug_files"] == []


def test_cleanup_without_days_keeps_a_week(client, add_job) -> None:
    now = datetime.now(timezone.utc)
    add_job("eight-days", when=now - timedelta(days=8))
    add_job("six-days", when=now - timedelta(days=6))
    assert client.delete(f"{API}/cleanup").get_json()["deleted_files"] == 1
    remaining = [f["job_id"] for f in client.get(f"{API}/status").get_json()["recent_debug_files"]]
    assert remaining == ["six-days"]


@pytest.mark.parametrize("days", ["-1", "x", "1.5", "", "99999999999", "7days"])
def test_cleanup_rejects_bad_ages_with_400(client, add_job, days) -> None:
    path = add_job("kept", when=datetime.now(timezone.utc) - timedelta(days=100))
    answer = client.delete(f"{API}/cleanup?days={days}")
    assert answer.status_code == 400
    assert "days" in error_of(answer)["message"]
    assert path.exists()


@pytest.mark.parametrize(("method", "url", "status"), [
    ("GET", "/no/such/page", 404), ("GET", f"{API}/nothing-here", 404), ("PUT", f"{API}/enable", 405),
    ("GET", f"{API}/enable", 405), ("POST", f"{API}/status", 405), ("GET", f"{API}/cleanup", 405),
])
def test_http_errors_are_json_with_their_real_status(client, method, url, status) -> None:
    answer = client.open(url, method=method)
    assert answer.status_code == status
    assert answer.mimetype == "application/json"
    error_of(answer)
    if status == 405:
        assert answer.headers["Allow"]


def test_oversized_bodies_are_refused_with_413(client) -> None:
    answer = client.post(f"{API}/enable", data="x" * (2 << 20), content_type="application/json")
    assert answer.status_code == 413
    error_of(answer)


def test_an_unexpected_error_is_logged_and_answered_500_without_details(make_app, caplog) -> None:
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("internal detail /secret/path")

    with caplog.at_level(logging.ERROR, logger="batch_debug.dashboard.app"):
        answer = app.test_client().get("/boom")
    assert answer.status_code == 500
    assert "secret" not in answer.get_data(as_text=True)
    assert "see its log" in error_of(answer)["message"]
    assert "internal detail" in caplog.text


def test_the_page_is_served_with_its_assets(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Batch Debug" in html and 'data-api="/api/v1/batch-debug"' in html
    assert 'data-token-required="false"' in html
    for asset in ("/static/app.js", "/static/app.css"):
        assert asset in html
    # Every module the page's script imports, followed from app.js, is served as JavaScript.
    queue, served = ["/static/app.js", "/static/app.css"], set()
    while queue:
        asset = queue.pop()
        if asset in served:
            continue
        served.add(asset)
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.data) > 1000, asset
        if asset.endswith(".js"):  # module scripts load only with a JavaScript type
            assert answer.mimetype in ("text/javascript", "application/javascript")
            queue += [f"/static/{name}" for name in re.findall(r'from "\./([\w-]+\.js)"', answer.get_data(as_text=True))]
        answer.close()
    assert {"/static/core.js", "/static/summary.js", "/static/testitem.js"} <= served
    assert "http://" not in html and "https://" not in html  # no CDN


def test_app_settings_come_from_prefixed_env_then_test_config(clean_env, monkeypatch, tmp_path: Path,
                                                             caplog) -> None:
    from batch_debug.dashboard.app import create_app

    monkeypatch.setenv("JELLYFIN_URL", "http://from-env:8096")
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_DIR", str(tmp_path / "env-dir"))
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_TEST_ITEM_CONCURRENCY", "5")
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_TEST_ITEM_DEADLINE_SECONDS", "2.5")
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_SERVER_THREADS", "3")
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_SERVER_BACKLOG", "-1")  # logged, default kept
    # The old second prefix is no channel any more, and no variable names a setting twice.
    monkeypatch.setenv("BATCH_DEBUG_SERVER_CONNECTION_LIMIT", "7")
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_DEBUG_DIR", str(tmp_path / "alias-dir"))
    app = create_app()
    assert app.config["JELLYFIN_URL"] == "http://from-env:8096"
    assert app.config["DEBUG_DIR"] == str((tmp_path / "env-dir").resolve())
    assert (app.config["TEST_ITEM_CONCURRENCY"], app.config["TEST_ITEM_DEADLINE_SECONDS"]) == (5, 2.5)
    assert (app.config["SERVER_THREADS"], app.config["SERVER_BACKLOG"]) == (3, 128)
    assert app.config["SERVER_CONNECTION_LIMIT"] == 1000
    assert "APHRODITE_BATCH_DEBUG_SERVER_BACKLOG='-1'" in caplog.text
    app = create_app({"DEBUG_DIR": str(tmp_path / "test-dir"), "SERVER_THREADS": 2})
    assert app.config["DEBUG_DIR"] == str((tmp_path / "test-dir").resolve())
    assert app.config["SERVER_THREADS"] == 2
    assert json.loads(app.test_client().get(f"{API}/status").data)["debug_dir"] == app.config["DEBUG_DIR"]
