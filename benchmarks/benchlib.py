"""What the benchmark sections share: processes pinned to a CPU, the simulator, a dashboard, latency.

Usage::

    sim = Simulator.start()                 # the Jellyfin simulator in its own process, on CPU 0
    with dashboard(folder) as url:          # `batch-debug serve --dir folder` on a free port
        median_ms(url + "/api/v1/batch-debug/jobs")
    free_gb(folder)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

PY = sys.executable
API = "/api/v1/batch-debug"


def pin(cpu: int) -> dict[str, Any]:
    """Popen arguments that pin a child to one CPU (server and client apart: less noise)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        return {"preexec_fn": lambda: os.sched_setaffinity(0, {cpu})}
    return {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered at {url} within {timeout:.0f} s")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without debug switched on or a token, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("APHRODITE_BATCH_DEBUG", "APHRODITE_BATCH_DEBUG_TOKEN")}
    env.update(extra)
    return env


@dataclass
class Simulator:
    """The Jellyfin simulator (healthy profile) in its own process, pinned to CPU 0."""

    process: subprocess.Popen
    url: str
    item: str

    @classmethod
    def start(cls) -> Simulator:
        port = free_port()
        proc = subprocess.Popen([PY, "-m", "batch_debug.dashboard.cli", "jellyfin-sim", "--port", str(port),
                                 "--profile", "healthy", "--api-key", "bench-key"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **pin(0))
        item = ""
        assert proc.stdout is not None
        for _ in range(5):
            line = proc.stdout.readline()
            if line.startswith("known item ids:"):
                item = line.split()[3]
                break
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/System/Info/Public")
        return cls(proc, url, item)

    def poster_url(self) -> str:
        return f"{self.url}/Items/{self.item}/Images/Primary"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@contextmanager
def dashboard(folder: Path) -> Iterator[str]:
    """``batch-debug serve --dir folder`` on a free loopback port (no token); its base URL."""
    port = free_port()
    server = subprocess.Popen([PY, "-m", "batch_debug.dashboard.cli", "serve", "--port", str(port),
                               "--dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env())
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + API + "/status")
        yield url
    finally:
        server.terminate()
        server.wait(10)


def spread(values: list[float], alone: list[float]) -> list[float]:
    """``[lowest, highest]`` of each round's figure against the client alone in the same round: how far one
    run's ratio may move."""
    each = [value / base for value, base in zip(values, alone)]
    return [round(min(each), 3), round(max(each), 3)]


def median_ms(url: str, calls: int = 20, warmup: int = 2, before: Callable[[], object] | None = None) -> float:
    """Median milliseconds of ``calls`` GETs of ``url`` (after ``warmup`` unmeasured ones) on one connection;
    ``before()`` runs before each, untimed."""
    timings = []
    with httpx.Client(timeout=60) as client:
        for _ in range(calls + warmup):
            if before is not None:
                before()
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return round(statistics.median(timings[warmup:]), 2)


def free_gb(folder: Path) -> float:
    """Free disk space where ``folder`` lives, in GB (10^9 bytes)."""
    return shutil.disk_usage(folder).free / 1e9


def run_json(args: list[str], env: dict[str, str] | None = None, cpu: int | None = None,
             quiet: bool = False) -> dict[str, Any]:
    """Run a child (pinned to ``cpu``) and return the JSON object on its last stdout line.

    Its stderr streams through (progress), or with ``quiet`` is kept and shown only if it fails;
    a failure stops the bench, naming the command.
    """
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE if quiet else None, text=True,
                         env=env or clean_env(), **(pin(cpu) if cpu is not None else {}))
    if out.returncode != 0:
        if quiet:
            sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"{' '.join(args)} failed with exit status {out.returncode} (its stderr is above)")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def summary_of(path: str) -> tuple[float, dict[str, Any]]:
    """(wall seconds, summary) of ``batch-debug summary FILE --json`` run as a fresh process."""
    started = time.perf_counter()
    out = subprocess.run([PY, "-m", "batch_debug.dashboard.cli", "summary", path, "--json"],
                         capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    return round(seconds, 3), json.loads(out.stdout)


def note(message: str) -> None:
    """A progress line on stderr (stdout ends with the table and the JSON line)."""
    print(message, file=sys.stderr, flush=True)
