"""OTLP export from setup(): a receiver this project did not write (oteltap) gets the job's spans
while debug is on and nothing while it is off; a receiver that is down costs the job nothing and
shows in /status as export_errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

from batch_debug.collector import jobfile
from batch_debug.dashboard.app import create_app
from otlp_support import (POSTER_JOB, PYTHON, OtelTap, free_port, run_poster_job, wait_for, worker_env)
from support import API_KEY, scan_for_secret

# setup(), the job script, then flush and stay alive until told: /status lists live processes only.
FLUSH_AND_WAIT = """
import runpy, sys
from batch_debug.instrumentation import setup
pipeline = setup()
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
pipeline.provider.force_flush()
print("flushed", flush=True)
sys.stdin.readline()
"""


def _span_ids(job: dict) -> set[str]:
    return {s["spanId"] for rs in job["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]}


def test_the_receiver_gets_the_jobs_spans_only_while_debug_is_on(make_sim, tmp_path: Path) -> None:
    sim = make_sim("mixed", seed=3)
    items = sim.demo_item_ids(4, seed=3)
    tap = OtelTap()
    try:
        run_poster_job("setup", sim.url, API_KEY, "off-job", items, APHRODITE_BATCH_DEBUG_DIR=str(tmp_path),
                       OTEL_EXPORTER_OTLP_ENDPOINT=tap.url)
        run_poster_job("setup", sim.url, API_KEY, "on-job", items, APHRODITE_BATCH_DEBUG="true",
                       APHRODITE_BATCH_DEBUG_DIR=str(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=tap.url)
        job = jobfile.load(jobfile.newest_for(tmp_path, "on-job"))
        wanted = _span_ids(job)
        received = wait_for(lambda: {s["spanId"] for s in tap.collected()} >= wanted and tap.collected())
    finally:
        tap.stop()
    assert [f.job_id for f in jobfile.list_job_files(tmp_path)] == ["on-job"]
    assert {s["spanId"] for s in received} == wanted  # every span of the debug job, none of the other
    assert {s["traceId"] for s in received} == {job["trace_id"]}
    assert API_KEY not in repr(received)


def test_a_receiver_that_is_down_is_counted_in_status_and_the_file_still_written(make_sim, tmp_path: Path) -> None:
    sim = make_sim("healthy")
    folder = tmp_path / "debug"
    worker = subprocess.Popen(
        [PYTHON, "-c", FLUSH_AND_WAIT, str(POSTER_JOB), sim.url, API_KEY, "unexported", *sim.item_ids[:3]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=worker_env(APHRODITE_BATCH_DEBUG="true", APHRODITE_BATCH_DEBUG_DIR=str(folder),
                       OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}", OTEL_EXPORTER_OTLP_TIMEOUT="1"))
    try:
        assert worker.stdout.readline().strip() == "flushed", worker.stderr.read()[-2000:]
        status = create_app({"DEBUG_DIR": str(folder), "TESTING": True}).test_client().get(
            "/api/v1/batch-debug/status").get_json()
    finally:
        out, err = worker.communicate("\n", timeout=60)
    assert worker.returncode == 0, err[-2000:]
    job = jobfile.load(jobfile.newest_for(folder, "unexported"))
    assert job["complete"] and job["summary"]["total_requests"] == 9
    assert [e["pid"] for e in status["export_errors"]] == [worker.pid]
    report = status["export_errors"][0]
    assert report["count"] >= 1 and report["failing"] is True
    assert "/v1/traces" in report["last_error"]
    assert status["write_errors"] == []
    assert scan_for_secret(tmp_path) == []
