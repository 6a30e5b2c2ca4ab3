"""The dashboard as a real server process (waitress), driven over HTTP with a separate worker process,
half-sent requests and a DNS-rebinding client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.server import ServeError, create_server, is_loopback, serve
from dashboard_helpers import (API, RECORDED_JOB, SIM_KEY, ServerProcess, child_env, finish_worker, start_worker,
                               step_through)


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
        with pytest.raises(ServeError, match=f"port {port} on 127.0.0.1 is in use"):
            create_server("127.0.0.1", port, app=app)


def test_serve_refuses_to_expose_the_api(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "batch_debug.dashboard.cli", "serve", "--host", "0.0.0.0", "--port", "0",
         "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60, env=child_env())
    assert done.returncode == 1
    assert "Error: Refusing to serve on 0.0.0.0" in done.stderr


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
    worker = start_worker(job_dir, mixed_sim.url, SIM_KEY, "proc-job-1", items, stepped=True)
    seen: list[dict] = []

    def look() -> None:  # the worker waits after each item while we look
        active = http.get(f"{API}/status").json()["active_jobs_with_debug"]
        seen.extend(job for job in active if job["job_id"] == "proc-job-1")

    result = step_through(worker, look)
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
    # A new worker process reads the state file before its first span: no wait for a refresh interval.
    quiet = finish_worker(start_worker(job_dir, mixed_sim.url, SIM_KEY, "proc-job-2", items[:3]))
    assert quiet["job_file"] is None
    assert http.get(f"{API}/job/proc-job-2/summary").status_code == 404
    assert [f["job_id"] for f in http.get(f"{API}/status").json()["recent_debug_files"]] == ["proc-job-1"]
    assert sorted(p.name for p in job_dir.glob("job_*.json")) == [Path(result["job_file"]).name]
    http.close()


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _half_sent(url: str) -> socket.socket:
    """A client that sends half a request line and headers, and never the rest."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(f"GET {API}/status HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Half: ".encode())
    return sock


def test_half_sent_requests_hold_no_threads_and_others_are_served(tmp_path: Path, job_dir: Path) -> None:
    """800 half-sent requests held 800 threads of the development server; a thread pool holds none."""
    server = ServerProcess(job_dir, tmp_path / "server.log", APHRODITE_BATCH_DEBUG_SERVER_THREADS="4")
    held: list[socket.socket] = []
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/healthz").status_code == 200
            baseline = _threads(server.process.pid)
            held = [_half_sent(server.url) for _ in range(20)]
            for _ in range(10):  # a fresh connection each time, as a new client
                assert httpx.get(f"{server.url}{API}/status", timeout=10).status_code == 200
            assert _threads(server.process.pid) <= baseline
            for sock in held:
                sock.close()
            held = []
            assert http.get(f"{API}/status").status_code == 200
            assert _threads(server.process.pid) == baseline
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_a_half_sent_request_is_dropped_after_the_channel_timeout(tmp_path: Path, job_dir: Path) -> None:
    server = ServerProcess(job_dir, tmp_path / "server.log", APHRODITE_BATCH_DEBUG_SERVER_CHANNEL_TIMEOUT="1",
                           APHRODITE_BATCH_DEBUG_SERVER_CLEANUP_INTERVAL="1")
    try:
        with _half_sent(server.url) as sock:
            assert sock.recv(1) == b""  # the server closed it (a development server waits forever)
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    finally:
        server.stop()


def test_a_rebinding_page_gets_nothing_from_the_real_server(tmp_path: Path, job_dir: Path, add_job) -> None:
    """DNS rebinding against the process: a foreign Host with a matching Origin, no token."""
    job = add_job(when=datetime.now(timezone.utc) - timedelta(days=30))
    server = ServerProcess(job_dir, tmp_path / "server.log")
    port = urlsplit(server.url).port
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    try:
        with httpx.Client(base_url=server.url, timeout=10, headers=evil) as http:
            answers = [http.post(f"{API}/enable", json={"duration_minutes": 1440}), http.get(f"{API}/status"),
                       http.get(f"{API}/job/{RECORDED_JOB}/full-log"), http.delete(f"{API}/cleanup?days=0"),
                       http.post(f"{API}/test-item", json={"item_id": "0123456789abcdef0123456789abcdef"}),
                       http.get("/")]
        assert [a.status_code for a in answers] == [403] * len(answers)
        assert all(a.json()["error"]["status"] == 403 for a in answers)
        assert job.exists()
        status = httpx.get(f"{server.url}{API}/status", timeout=10).json()
        assert status["debug_enabled"] is False and status["debug_files_total"] == 1
    finally:
        server.stop()


def test_with_the_token_the_real_server_answers_any_host(tmp_path: Path, job_dir: Path) -> None:
    token = "real-server-t0ken"
    server = ServerProcess(job_dir, tmp_path / "server.log", APHRODITE_BATCH_DEBUG_TOKEN=token)
    port = urlsplit(server.url).port
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.post(f"{API}/enable", headers=evil).status_code == 403
            assert http.get("/", headers=evil).status_code == 403
            auth = {**evil, "Authorization": f"Bearer {token}"}
            assert http.post(f"{API}/enable", headers=auth).status_code == 200
            assert http.get(f"{API}/status", headers={"Host": f"sidecar:{port}", **auth}).json()["debug_enabled"]
    finally:
        server.stop()
