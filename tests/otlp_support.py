"""Helpers for tests that run workers as separate processes and compare their job files,
and for a third-party OTLP receiver (``oteltap``) in its own process.

Import with ``from otlp_support import ...`` (like ``support``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from support import REPO, stop_process

PYTHON = sys.executable
BIN = Path(sys.executable).parent
POSTER_JOB = REPO / "examples" / "poster_job.py"
OTEL_CONFIG = REPO / "otel-config.yaml"
# The setup() way: one line before the same script.
SETUP_THEN_RUN = ("from batch_debug.instrumentation import setup; setup(); import runpy, sys; "
                  "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
_OURS = ("APHRODITE_BATCH_DEBUG", "JELLYFIN_", "OTEL_", "BATCH_DEBUG_")
_SERVER_TRACE_ID = re.compile(r'"traceId":"[^"]*"')  # the server's own id for each error answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(**extra: str) -> dict[str, str]:
    """This environment without any batch-debug, Jellyfin or OpenTelemetry settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env.update(extra)
    return env


def run_poster_job(mode: str, server: str, api_key: str, job_id: str, items: list[str], **env: str
                   ) -> subprocess.CompletedProcess[str]:
    """``examples/poster_job.py`` in a process of its own, ``mode`` "setup" or "zero-code"."""
    args = [server, api_key, job_id, *items]
    if mode == "setup":
        command = [PYTHON, "-c", SETUP_THEN_RUN, str(POSTER_JOB), *args]
    else:
        command = [str(BIN / "opentelemetry-instrument"), PYTHON, str(POSTER_JOB), *args]
        env = {"OTEL_CONFIG_FILE": str(OTEL_CONFIG), **env}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=worker_env(**env), cwd=REPO)
    assert done.returncode in (0, 1), f"{mode} worker crashed ({done.returncode}): {done.stderr[-3000:]}"
    return done


def job_essence(data: dict[str, Any]) -> dict[str, Any]:
    """What a job file says, apart from ids, times and durations."""
    summary = data["summary"]
    keep = ("total_requests", "successful_requests", "failed_requests", "success_rate_percent",
            "status_code_breakdown", "items_total", "items_succeeded", "items_failed", "retries", "failure_patterns",
            "debug_enabled", "dropped_spans")
    requests = [{k: r.get(k) for k in ("item_id", "attempt", "method", "path", "status_code", "error_type",
                                       "connection_reused", "http_version", "server", "error_body", "retry_after")}
                for r in ({**r, "path": r["url"].split("/", 3)[-1],  # not the server's port
                           "error_body": _SERVER_TRACE_ID.sub('"traceId":""', r.get("error_body") or "")}
                          for r in data["requests"])]
    spans = sorted((s["name"], s["kind"]) for rs in data["resourceSpans"] for ss in rs["scopeSpans"]
                   for s in ss["spans"])
    return {
        "complete": data["complete"],
        "summary": {k: summary.get(k) for k in keep},
        "items": [{k: i[k] for k in ("item_id", "outcome", "error")} for i in data["items"]],
        "requests": requests,
        "server_info": data["environment"].get("server_info"),
        "spans": spans,
    }


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """``predicate()``'s first truthy value, or its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


class OtelTap:
    """The ``oteltap`` OTLP/HTTP receiver (not ours) in its own process; every span it prints is kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([PYTHON, "-u", "-m", "oteltap", "--port", str(self.port)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        self.spans: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()
        started = self._lines.get(timeout=30)
        assert "Listening" in started, started

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def collected(self) -> list[dict[str, Any]]:
        """Every span received so far (OTLP/JSON as oteltap prints it)."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return self.spans
            if line.startswith("{"):
                self.spans.append(json.loads(line))

    def stop(self) -> None:
        stop_process(self.process)
