"""batch-debug benchmark: what tracing costs, measured side by side.

Usage: python benchmarks/bench.py [--quick]

Starts the Jellyfin simulator in its own process, then:

1. Overhead: interleaved rounds of five client processes (plain httpx; ours
   with debug off; ours with debug on, job file included; the stock httpx
   instrumentation with an ALWAYS_OFF sampler; stock with ALWAYS_ON and a
   BatchSpanProcessor feeding an exporter that does nothing). Each reports
   CPU microseconds per request; ratios are of medians to plain httpx.
2. Scale: one job of 100,000 requests (10,000 with --quick) with debug on:
   peak RSS growth, seconds until its file is complete, bytes per request.
3. ``batch-debug summary`` on that file (wall seconds, a fresh process).
4. ``GET /api/v1/batch-debug/status`` against ``batch-debug serve`` with
   1,000 job files in the folder (median ms of 20 calls).

Prints a table, then as its last line one JSON object with every figure.
Timings live here, never in tests: these machines are noisy, so compare
ratios from one run. With two or more CPUs the simulator is pinned to CPU 0
and the clients to CPU 1, so they do not steal each other's time slices.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
PY = sys.executable
MODES = ("bare", "off", "on", "stock_off", "stock_on")


def pin(cpu: int) -> dict[str, object]:
    """Popen arguments that pin a child to one CPU (server and client apart: less noise)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        return {"preexec_fn": lambda: os.sched_setaffinity(0, {cpu})}
    return {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered at {url} within {timeout:.0f} s")


def start_simulator() -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    proc = subprocess.Popen([PY, "-m", "batch_debug.dashboard.cli", "jellyfin-sim", "--port", str(port),
                             "--profile", "healthy", "--api-key", "bench-key"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **pin(0))
    item = ""
    for _ in range(5):
        line = proc.stdout.readline()
        if line.startswith("known item ids:"):
            item = line.split()[3]
            break
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/System/Info/Public")
    return proc, url, item


def overhead(url: str, item: str, rounds: int, n: int, work: Path) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_no in range(rounds):
        # Rotate the order each round, so no mode always runs first (or after the same one).
        for mode in MODES[round_no % len(MODES):] + MODES[:round_no % len(MODES)]:
            folder = work / f"overhead-{mode}-{round_no}"
            env = {k: v for k, v in os.environ.items() if k != "APHRODITE_BATCH_DEBUG"}
            out = subprocess.run([PY, str(HERE / "client.py"), mode, url, item, str(n), str(folder)],
                                 capture_output=True, text=True, env=env, check=True, **pin(1))
            results[mode].append(json.loads(out.stdout.strip().splitlines()[-1])["cpu_us"])
        print(f"  round {round_no + 1}/{rounds}: " + ", ".join(
            f"{m} {results[m][-1]:.0f} us" for m in MODES), file=sys.stderr, flush=True)
    return results


def scale(url: str, item: str, n: int, work: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "APHRODITE_BATCH_DEBUG"}
    out = subprocess.run([PY, str(HERE / "scale.py"), url, item, str(n), str(work / "scale")],
                         capture_output=True, text=True, env=env, check=True, **pin(1))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    started = time.perf_counter()
    subprocess.run([PY, "-m", "batch_debug.dashboard.cli", "summary", result["file"], "--json"],
                   capture_output=True, check=True)
    result["summary_s"] = round(time.perf_counter() - started, 3)
    return result


def status_latency(files: int, work: Path) -> float | None:
    folder = work / "status"
    folder.mkdir()
    sample = json.dumps({"job_id": "x", "complete": True, "summary": {"total_requests": 3}, "requests": []})
    for i in range(files):
        (folder / f"job_bench-{i:04d}_20260101_{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}.json").write_text(sample)
    port = free_port()
    env = {**os.environ, "APHRODITE_BATCH_DEBUG_DIR": str(folder)}
    env.pop("APHRODITE_BATCH_DEBUG_TOKEN", None)
    server = subprocess.Popen([PY, "-m", "batch_debug.dashboard.cli", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/batch-debug/status"
        wait_http(url)
        timings = []
        with httpx.Client() as client:
            for _ in range(22):
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
        return round(statistics.median(timings[2:]), 2)
    except (SystemExit, httpx.HTTPError) as exc:
        print(f"  /status not measured: {exc}", file=sys.stderr)
        return None
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under 2 minutes")
    args = parser.parse_args()
    rounds, n, scale_n = (5, 1500, 10_000) if args.quick else (10, 3000, 100_000)
    work = Path(tempfile.mkdtemp(prefix="batch-debug-bench-"))
    sim, url, item = start_simulator()
    try:
        print(f"overhead: {rounds} interleaved rounds x {n} requests per client", file=sys.stderr)
        raw = overhead(url, item, rounds, n, work)
        print(f"scale: one job of {scale_n:,} requests, debug on", file=sys.stderr, flush=True)
        big = scale(url, item, scale_n, work)
    finally:
        sim.terminate()
        sim.wait(10)
    print("status: 1,000 job files", file=sys.stderr, flush=True)
    status_ms = status_latency(1000, work)
    shutil.rmtree(work, ignore_errors=True)

    med = {mode: statistics.median(values) for mode, values in raw.items()}
    bare = med["bare"]
    figures = {
        "quick": args.quick,
        "rounds": rounds,
        "requests_per_round": n,
        "us_per_request_bare": round(bare, 1),
        "off_vs_bare": round(med["off"] / bare, 3),
        "on_vs_bare": round(med["on"] / bare, 3),
        "stock_off_vs_bare": round(med["stock_off"] / bare, 3),
        "stock_on_vs_bare": round(med["stock_on"] / bare, 3),
        "scale_requests": scale_n,
        "rss_growth_mb_100k": big["rss_growth_mb"],
        "file_complete_s_100k": big["file_complete_s"],
        "bytes_per_request_100k": big["bytes_per_request"],
        "summary_s_100k": big["summary_s"],
        "status_ms_1000_files": status_ms,
    }
    print()
    print(f"{'client':<34}{'CPU us/request':>16}{'vs plain httpx':>16}")
    labels = {"bare": "plain httpx", "off": "batch-debug, debug off", "on": "batch-debug, debug on (+file)",
              "stock_off": "stock instrumentation, ALWAYS_OFF", "stock_on": "stock, ALWAYS_ON + batch/no-op"}
    for mode in MODES:
        print(f"{labels[mode]:<34}{med[mode]:>16.1f}{med[mode] / bare:>16.3f}")
    print()
    print(f"scale job ({scale_n:,} requests, debug on)")
    print(f"  peak RSS growth          {big['rss_growth_mb']:>8} MB     (goal <= 100)")
    print(f"  file complete after end  {big['file_complete_s']:>8} s      (goal <= 5)")
    print(f"  file size per request    {big['bytes_per_request']:>8} B      (goal <= 2048)")
    print(f"  `batch-debug summary`    {big['summary_s']:>8} s      (goal <= 3)")
    print(f"/status, 1,000 job files   {status_ms!s:>8} ms     (goal <= 100)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
