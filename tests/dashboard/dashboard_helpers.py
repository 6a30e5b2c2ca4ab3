"""Helpers for the dashboard tests: a real server process, a worker process,
and answers checked against the published OpenAPI document (``jsonschema``).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator

from batch_debug.collector import config
from support import stop_process

API = "/api/v1/batch-debug"
SIM_KEY = "dashboard-test-key-0123456789"
RECORDED_JOB = "recorded-job"

# Runs the reference worker with the instrumentation pipeline on a folder, as
# a batch process would: argv = folder, server, key, job id, step, items...
# No pacing and no backoff. With step "1" the worker publishes progress after every item
# and then waits for a line on stdin: the test sees each step, then lets it go on.
WORKER_SCRIPT = """
import json, sys
from batch_debug.collector import progress
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.worker import WorkerConfig, run_job
folder, server, key, job_id, step, *items = sys.argv[1:]
pipeline = setup(folder)
stepped = step == "1"
if stepped:
    progress.INTERVAL_SECONDS = 0.0
def wait_for_the_test(_item):
    if stepped:
        pipeline.flush(10)  # the progress file is written by the writer thread
        print("item done", flush=True)
        sys.stdin.readline()
result = run_job(WorkerConfig(server=server, api_key=key, min_interval=0.0, backoff=(0.0,), max_retry_after=0.0),
                 items, job_id=job_id, progress=wait_for_the_test)
pipeline.flush(10)
print(json.dumps({"job_file": str(result.job_file) if result.job_file else None,
                  "succeeded": result.succeeded, "failed": result.failed}))
"""


def child_env(**extra: str) -> dict[str, str]:
    """This environment without debug, token or Jellyfin settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in (
        config.APHRODITE_BATCH_DEBUG, config.APHRODITE_BATCH_DEBUG_DIR, config.APHRODITE_BATCH_DEBUG_TOKEN,
        config.APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS, config.JELLYFIN_URL, config.JELLYFIN_API_KEY)
        and not k.startswith("BATCH_DEBUG_")}
    env.update(extra)
    return env


def start_worker(folder: Path, server: str, key: str, job_id: str, items: list[str],
                 stepped: bool = False) -> subprocess.Popen[str]:
    """A separate worker process; read its JSON result with ``finish_worker``.

    ``stepped``: after each item the worker prints "item done" and waits for
    ``next_item(process)``, so a test can look at the job mid-run without pacing it.
    """
    return subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, str(folder), server, key, job_id, "1" if stepped else "0", *items],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())


def step_through(process: subprocess.Popen[str], look: Callable[[], None], timeout: float = 60.0) -> dict[str, Any]:
    """Run a ``stepped`` worker to the end, calling ``look()`` while it waits after each item; its result."""
    assert process.stdout is not None and process.stdin is not None
    while True:
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        assert ready, "the stepped worker neither finished an item nor ended"
        line = process.stdout.readline()
        if line.strip() != "item done":
            break
        look()
        process.stdin.write("go\n")
        process.stdin.flush()
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}): {err[-3000:]}"
    return json.loads((line + out).strip().splitlines()[-1])


def finish_worker(process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}): {err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


class ServerProcess:
    """``batch-debug -v serve`` on a free loopback port (``-v``: failed requests are logged, at INFO)."""

    def __init__(self, folder: Path, log: Path, **env: str) -> None:
        self.log = log
        self._log_file = open(log, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "batch_debug.dashboard.cli", "-v", "serve", "--host", "127.0.0.1", "--port", "0",
             "--dir", str(folder)],
            stdout=subprocess.PIPE, stderr=self._log_file, text=True, env=child_env(**env))
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        seen = b""  # read from the pipe itself: a buffered readline() would hide a second line from select()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                seen += os.read(self.process.stdout.fileno(), 65536)
                match = re.search(r"listening on (http://\S+?)/?$", seen.decode(errors="replace"), re.MULTILINE)
                if match:
                    return match.group(1)
            if self.process.poll() is not None:
                break
        self.stop()
        raise AssertionError(f"the dashboard did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            stop_process(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log_file.close()


def schema_errors(value: Any, schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """Where ``value`` breaks ``schema`` (say ``{"$ref": "#/components/schemas/Status"}``) of the published
    OpenAPI ``document``: ``jsonschema`` with Draft 2020-12, the dialect of OpenAPI 3.1, refs resolved in the
    document (the same validator class the API checks request bodies with)."""
    validator = Draft202012Validator({**schema, "components": document["components"]},
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return sorted(f"{error.json_path}: {error.message}" for error in validator.iter_errors(value))


def error_of(response: Any) -> dict[str, Any]:
    """The JSON error body, checked for the one shape every error has."""
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "message"}
    assert body["error"]["status"] == response.status_code
    assert body["error"]["message"]
    return body["error"]
