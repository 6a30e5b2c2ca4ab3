"""Load on the dashboard while jobs run: no error answers, bounded memory.

Usage: python benchmarks/loadtest.py [--clients 50] [--seconds 60]

Starts the Jellyfin simulator, ``batch-debug serve`` (its own process, its
own folder) and a worker process that runs recorded jobs back to back. Then
``--clients`` threads poll ``/status`` and ``/jobs`` and download the newest
full log, for ``--seconds``. Every answer must be 2xx. The server's resident
memory is read from /proc before and after the load and sampled for its peak.

Prints a table, then as its last line one JSON object with the figures;
exits 1 if any answer failed. The test suite runs a reduced form of it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

PY = sys.executable
API = "/api/v1/batch-debug"
WORKER = """
import sys
from pathlib import Path
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.simulator import JellyfinSimulator
from batch_debug.jellyfin.worker import WorkerConfig, run_job
setup(sys.argv[1])
with JellyfinSimulator(profile="mixed", seed=3, api_key="load-key") as sim:
    ids = sim.demo_item_ids(30, seed=3)
    config = WorkerConfig(server=sim.url, api_key="load-key", concurrency=2, min_interval=0.005,
                          backoff=(0.05, 0.1))
    n = 0
    stop = Path(sys.argv[2])  # jobs run back to back until the load is over
    while not stop.exists():
        run_job(config, ids, f"load-{n}")
        n += 1
    print(n, flush=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(clients: int, seconds: float) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="batch-debug-load-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("APHRODITE_BATCH_DEBUG", "APHRODITE_BATCH_DEBUG_TOKEN")}
    server = subprocess.Popen([PY, "-m", "batch_debug.dashboard.cli", "serve", "--port", str(port),
                               "--dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    worker = None
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("the dashboard did not start")
                time.sleep(0.1)
        httpx.post(base + API + "/enable", json={"duration_minutes": 30}).raise_for_status()
        stop_file = folder / ".loadtest-stop"  # not a job file: the dashboard ignores it
        worker = subprocess.Popen([PY, "-c", WORKER, str(folder), str(stop_file)], stdout=subprocess.PIPE,
                                  text=True, env=env)
        while not any(folder.glob("job_*.json")):  # a first job file to download
            time.sleep(0.1)
            if worker.poll() is not None:
                raise SystemExit("the worker stopped before writing a job file")
        rss_before = rss_mb(server.pid)
        peak = [rss_before]
        served, errors, latencies = [0], [], []
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def client() -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                while time.monotonic() < stop:
                    for call in ("status", "jobs", "log"):
                        started = time.perf_counter()
                        try:
                            if call == "status":
                                answer = http.get(API + "/status")
                            elif call == "jobs":
                                answer = http.get(API + "/jobs", params={"per_page": 10})
                            else:
                                newest = http.get(API + "/status").json()["recent_debug_files"][0]["job_id"]
                                answer = http.get(f"{API}/job/{newest}/full-log")
                            ok = 200 <= answer.status_code < 300
                            problem = None if ok else f"{call}: HTTP {answer.status_code} {answer.text[:200]}"
                        except (httpx.HTTPError, ValueError, IndexError, KeyError) as exc:
                            problem = f"{call}: {type(exc).__name__}: {exc}"
                        with lock:
                            served[0] += 1
                            latencies.append((time.perf_counter() - started) * 1000)
                            if problem:
                                errors.append(problem)

        def sample() -> None:
            while time.monotonic() < stop:
                peak[0] = max(peak[0], rss_mb(server.pid))
                time.sleep(0.2)

        threads = [threading.Thread(target=client) for _ in range(clients)] + [threading.Thread(target=sample)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rss_after = rss_mb(server.pid)
        stop_file.touch()
        jobs_run = int((worker.communicate(timeout=60)[0] or "0").strip() or 0)
        return {
            "clients": clients, "seconds": seconds, "requests": served[0], "errors": len(errors),
            "first_errors": errors[:3], "jobs_written": jobs_run,
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p95_ms": round(statistics.quantiles(latencies, n=20)[-1], 1) if len(latencies) > 1 else None,
            "server_rss_mb_before": round(rss_before, 1), "server_rss_mb_after": round(rss_after, 1),
            "server_rss_mb_peak": round(peak[0], 1),
        }
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    figures = run(args.clients, args.seconds)
    print(f"{figures['clients']} clients for {figures['seconds']} s while jobs ran ({figures['jobs_written']} jobs)")
    print(f"  requests served   {figures['requests']}")
    print(f"  error answers     {figures['errors']}")
    print(f"  latency           p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms")
    print(f"  server RSS        {figures['server_rss_mb_before']} MB before, {figures['server_rss_mb_peak']} MB peak, "
          f"{figures['server_rss_mb_after']} MB after")
    print(json.dumps(figures))
    sys.exit(1 if figures["errors"] else 0)


if __name__ == "__main__":
    main()
