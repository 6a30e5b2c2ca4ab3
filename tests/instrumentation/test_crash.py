"""A worker stopped mid-job: SIGTERM writes what it has; SIGKILL leaves nothing half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from batch_debug.collector import jobfile, progress
from batch_debug.collector.switch import STATE_FILENAME, DebugSwitch
from support import API_KEY

WORKER = """
import sys
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.worker import WorkerConfig, run_job
setup(sys.argv[1])
run_job(WorkerConfig(server=sys.argv[2], api_key=sys.argv[3], min_interval=0.01), sys.argv[4:], "stopped")
print("finished", flush=True)
"""


def _start_worker(folder: Path, sim) -> subprocess.Popen:
    env = {**os.environ, "APHRODITE_BATCH_DEBUG": "true"}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(folder), sim.url, API_KEY, *sim.item_ids[:150] * 2],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_progress(folder: Path, worker: subprocess.Popen, requests: int = 20) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        active = progress.read_active(folder)
        if active and active[0]["requests"] >= requests:
            return
        assert worker.poll() is None, worker.stderr.read()
        time.sleep(0.1)
    raise AssertionError("the worker never got going")


def test_sigterm_mid_job_writes_an_incomplete_job_file(debug_dir: Path, sim) -> None:
    DebugSwitch(debug_dir).enable(5)  # a valid state file, to check it survives
    worker = _start_worker(debug_dir, sim)
    _wait_for_progress(debug_dir, worker)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGTERM
    path = jobfile.newest_for(debug_dir, "stopped")
    assert path is not None, err
    data = jobfile.load(path)
    assert data["complete"] is False
    served = sim.stats()["by_route"]
    assert 20 <= data["summary"]["total_requests"] <= served["item"] + served["image"]
    assert len(data["requests"]) == data["summary"]["total_requests"]
    summary = data["summary"]
    assert summary["items_total"] == 300  # as declared
    assert summary["items_started"] < 300 and summary["items_not_started"] == 300 - summary["items_started"]
    assert summary["items_unfinished"] in (0, 1)  # the item in progress when the signal came
    assert summary["items_failed"] == 0 and summary["complete"] is False
    assert "job_interrupted" in [f["id"] for f in summary["findings"]]
    assert not summary["recommendations"][0].startswith("No problems")
    assert progress.read_active(debug_dir) == []
    assert json.loads((debug_dir / STATE_FILENAME).read_text())["enabled"] is True


def test_sigkill_leaves_no_half_written_file_and_the_next_start_cleans_up(debug_dir: Path, sim) -> None:
    worker = _start_worker(debug_dir, sim)
    _wait_for_progress(debug_dir, worker, requests=450)  # past a spool batch: temp files exist
    leftovers = [p.name for p in debug_dir.iterdir() if p.name.endswith(".tmp")]
    worker.kill()
    worker.wait(10)
    assert leftovers, "expected the spool's temporary files mid-job"
    assert jobfile.list_job_files(debug_dir) == []
    subprocess.run([sys.executable, "-c", f"from batch_debug.instrumentation import setup; setup({str(debug_dir)!r})"],
                   check=True)
    assert [p.name for p in debug_dir.iterdir() if p.name.endswith(".tmp")] == []
