"""How aiohttp is set up: the command line's ``--client aiohttp``, zero-code mode (opentelemetry-instrument
first), the stock instrumentor's own config for spans outside jobs, and ``reset()`` leaving aiohttp as it was.
What an aiohttp job records: ``test_aiohttp_client``."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from wrapt import FunctionWrapper

from batch_debug.collector import jobfile
from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import aiohttp_setup, upstream
from batch_debug.instrumentation.pipeline import reset
from otlp_support import BIN, OTEL_CONFIG, PYTHON, free_port, worker_env
from support import API_KEY, scan_for_secret


def test_run_job_client_aiohttp_from_the_command_line(tmp_path: Path, make_sim) -> None:
    sim = make_sim("healthy")
    DebugSwitch(tmp_path, environ={}).enable(5)
    env = {key: value for key, value in os.environ.items() if key != "APHRODITE_BATCH_DEBUG"}
    out = subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", "run-job", "--server", sim.url,
                          "--api-key", API_KEY, "--job-id", "cli-aiohttp", "--client", "aiohttp",
                          "--session-strategy", "per-request", "--no-wait", "--dir", str(tmp_path),
                          *sim.item_ids[:3]], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    path = jobfile.newest_for(tmp_path, "cli-aiohttp")
    assert path is not None and f"debug file: {path}" in out.stdout
    summary = jobfile.load(path)["summary"]
    assert (summary["total_requests"], summary["items_succeeded"], summary["sessions_created"]) == (9, 3, 9)
    assert API_KEY not in out.stdout + out.stderr
    assert scan_for_secret(tmp_path) == []


_AIOHTTP_JOB = """
import asyncio, sys
from batch_debug.jellyfin.worker import WorkerConfig
from batch_debug.jellyfin.worker_aiohttp import run_job_aiohttp
server, key, job_id, *ids = sys.argv[1:]
config = WorkerConfig(server=server, api_key=key, min_interval=0.0, backoff=(0.0,), max_retry_after=0.0)
asyncio.run(run_job_aiohttp(config, ids, job_id))
"""


def test_zero_code_mode_records_aiohttp_jobs_behind_the_gate(make_sim, tmp_path: Path) -> None:
    """opentelemetry-instrument has instrumented aiohttp without the gate first; the job file is the same."""
    sim = make_sim("healthy")
    dead = f"http://127.0.0.1:{free_port()}"  # no receiver: export fails quietly
    env = worker_env(OTEL_CONFIG_FILE=str(OTEL_CONFIG), APHRODITE_BATCH_DEBUG="true",
                     APHRODITE_BATCH_DEBUG_DIR=str(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=dead,
                     OTEL_EXPORTER_OTLP_TIMEOUT="1")
    done = subprocess.run([str(BIN / "opentelemetry-instrument"), PYTHON, "-c", _AIOHTTP_JOB, sim.url, API_KEY,
                           "zero-aiohttp", *sim.item_ids[:3]], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    path = jobfile.newest_for(tmp_path, "zero-aiohttp")
    assert path is not None, done.stderr[-3000:]
    data = jobfile.load(path)
    assert (data["summary"]["total_requests"], data["summary"]["items_succeeded"]) == (9, 3)
    scopes = Counter(ss["scope"]["name"] for rs in data["resourceSpans"] for ss in rs["scopeSpans"]
                     for _ in ss["spans"])
    assert "opentelemetry.instrumentation.aiohttp_client" not in scopes  # no stock span beside ours
    assert sum(scopes.values()) == 1 + 3 + 9


def test_stock_spans_use_the_instrumentors_own_trace_config() -> None:
    """Contract, wrapt 2.5.2 and opentelemetry-instrumentation-aiohttp-client 0.66b1: ``upstream.wrapper_function``
    finds the instrumentor's wrapper on ``ClientSession.__init__``, so the stock config has its settings."""

    def around(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    assert upstream.wrapper_function(FunctionWrapper(len, around)) is around, \
        "wrapt's FunctionWrapper._self_wrapper is gone: update instrumentation/upstream.py"
    # Set on the config by the instrumentor's own wrapper only (not by the create_trace_config fallback).
    assert getattr(aiohttp_setup._stock, "_is_instrumented_by_opentelemetry", False)  # noqa: SLF001


def test_reset_leaves_aiohttp_as_it_was(sim) -> None:
    reset()  # the autouse fixture installs the default pipeline again afterwards
    assert not AioHttpClientInstrumentor().is_instrumented_by_opentelemetry
    for name in ("__init__", "close"):
        assert not isinstance(inspect.getattr_static(aiohttp.ClientSession, name), FunctionWrapper), name

    async def plain() -> tuple[type, int]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary") as response:
                await response.read()
                return type(session.trace_configs), response.status

    assert asyncio.run(plain()) == (list, 200)
