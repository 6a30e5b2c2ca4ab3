"""The dashboard as a real server process, driven over HTTP with a separate worker process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.server import ServeError, create_server, is_loopback, serve
from dashboard_helpers import API, SIM_KEY, ServerProcess, child_env, finish_worker, start_worker


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("localhost", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False), ("", False),
])
def test_is_loopback(host, expected) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "my-nas.local"])
def test_serve_refuses_a_non_loopback_address_without_a_token(clean_env, job_dir, host) -> None:
    with pytest.raises(ServeError, match="APHRODITE_BATCH_DEBUG_TOKEN"):
        serve(host, 0, app=create_app({"DEBUG_DIR": str(job_dir)}))


def test_serve_reads_the_token_from_the_environment(clean_env, monkeypatch) -> None:
    with pytest.raises(ServeError, match="not a loopback address"):
        serve("0.0.0.0", 0)
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_TOKEN", "a-long-random-token")
    server = create_server("0.0.0.0", 0)  # allowed now: every /api/ call needs the token
    try:
        assert server.server_port > 0
    finally:
        server.server_close()


def test_a_taken_port_is_a_serve_error(app) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"127.0.0.1:{port}"):
            create_server("127.0.0.1", port, app=app)


def test_the_module_entry_refuses_to_expose_the_api(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "batch_debug.dashboard.server", "--host", "0.0.0.0", "--port", "0",
         "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60, env=child_env())
    assert done.returncode == 2
    assert "Refusing to serve on 0.0.0.0" in done.stderr


@pytest.fixture
def server(tmp_path: Path, job_dir: Path):
    process = ServerProcess(job_dir, tmp_path / "server.log")
    yield process
    process.stop()


def test_enable_in_the_server_reaches_a_worker_process_and_disable_stops_it(server, job_dir, mixed_sim) -> None:
    """Enable over HTTP -> a separate worker records its job (seen live in /status) -> disable -> nothing."""
    http = httpx.Client(base_url=server.url, timeout=10)
    assert http.get("/healthz").json() == {"status": "ok"}
    enabled = http.post(f"{API}/enable", json={"duration_minutes": 5})
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True

    items = mixed_sim.item_ids[:10]
    worker = start_worker(job_dir, mixed_sim.url, SIM_KEY, "proc-job-1", items, interval=0.15)
    seen: list[dict] = []
    deadline = time.monotonic() + 30
    while worker.poll() is None and time.monotonic() < deadline:
        active = http.get(f"{API}/status").json()["active_jobs_with_debug"]
        seen += [job for job in active if job["job_id"] == "proc-job-1"]
        time.sleep(0.2)
    result = finish_worker(worker)
    assert result["job_file"] is not None
    assert seen, "the running job never showed in active_jobs_with_debug"
    assert all(job["pid"] == worker.pid and job["items_total"] == 10 for job in seen)
    done_counts = sorted({job["items_done"] for job in seen})
    assert len(done_counts) >= 2, f"progress did not move while the job ran: {done_counts}"
    assert max(job["requests"] for job in seen) >= 3

    status = http.get(f"{API}/status").json()
    assert status["active_jobs_with_debug"] == []
    assert [f["job_id"] for f in status["recent_debug_files"]] == ["proc-job-1"]
    assert status["recent_debug_files"][0]["filename"] == Path(result["job_file"]).name
    summary = http.get(f"{API}/job/proc-job-1/summary").json()
    assert summary["items_total"] == 10 and summary["total_requests"] >= 30

    disabled = http.post(f"{API}/disable")
    assert disabled.json()["enabled"] is False
    time.sleep(0.6)  # longer than a worker's refresh interval, though a new process reads at once
    quiet = finish_worker(start_worker(job_dir, mixed_sim.url, SIM_KEY, "proc-job-2", items[:3]))
    assert quiet["job_file"] is None
    assert http.get(f"{API}/job/proc-job-2/summary").status_code == 404
    assert [f["job_id"] for f in http.get(f"{API}/status").json()["recent_debug_files"]] == ["proc-job-1"]
    assert sorted(p.name for p in job_dir.glob("job_*.json")) == [Path(result["job_file"]).name]
    http.close()
