"""The rerun loop: ``summary --failed-ids`` and ``--check`` on real job files, and ``collector/rerun``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_debug.collector import jobfile, rerun
from batch_debug.jellyfin.shapes import Shapes
from support import API_KEY


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "APHRODITE_BATCH_DEBUG"}
    return subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def mixed_jobs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real job files of the simulator's mixed profile (three seeds), written by ``demo``."""
    folder = tmp_path_factory.mktemp("mixed")
    for seed in (1, 2, 3):
        done = cli("demo", "--items", "24", "--seed", str(seed), "--no-wait", "--dir", str(folder))
        assert done.returncode == 0, done.stderr
    paths = [info.path for info in jobfile.list_job_files(folder)]
    assert len(paths) == 3
    return paths


def test_failed_ids_follow_the_summary_rule_on_real_mixed_jobs(mixed_jobs: list[Path]) -> None:
    for path in mixed_jobs:
        head, whole = jobfile.load_head(path), jobfile.load(path)
        failed = rerun.failed_item_ids(head)
        assert failed, "the mixed profile fails some demo items on purpose"
        assert len(failed) == head["summary"]["items_failed"]
        assert failed == rerun.failed_item_ids(whole)  # the head is enough
        # In the job's item order, and exactly the items that ended without success.
        assert failed == [i["item_id"] for i in whole["items"] if i["outcome"] != "succeeded"]
        assert rerun.unfinished_item_ids(head) == []  # the job ended: nothing unfinished
        assert rerun.check(head) == [f"{len(failed)} items failed"]


def test_summary_failed_ids_prints_the_ids_and_nothing_else(mixed_jobs: list[Path]) -> None:
    path = mixed_jobs[0]
    done = cli("summary", str(path), "--failed-ids")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == rerun.failed_item_ids(jobfile.load(path))
    assert done.stdout.endswith("\n") and done.stderr == ""
    by_id = cli("summary", path.name.split("_")[1], "--failed-ids", "--dir", str(path.parent))
    assert by_id.stdout == done.stdout


def test_the_printed_ids_are_what_run_job_takes(mixed_jobs: list[Path], make_sim, tmp_path: Path) -> None:
    """The loop closed: the ids go straight back into run-job, which fails on exactly those again."""
    sim = make_sim("mixed", seed=1)
    ids = cli("summary", str(mixed_jobs[0]), "--failed-ids").stdout.split()
    cli("enable", "--minutes", "5", "--dir", str(tmp_path))
    again = cli("run-job", "--server", sim.url, "--api-key", API_KEY, "--job-id", "rerun", "--no-wait",
                "--dir", str(tmp_path), *ids)
    rerun_file = jobfile.newest_for(tmp_path, "rerun")
    assert rerun_file is not None, again.stderr
    assert [i["item_id"] for i in jobfile.load(rerun_file)["items"]] == ids


def test_check_fails_a_job_with_failed_items_and_says_why(mixed_jobs: list[Path]) -> None:
    path = mixed_jobs[1]
    failed = jobfile.load_head(path)["summary"]["items_failed"]
    done = cli("summary", str(path), "--check")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == f"job {jobfile.load_head(path)['job_id']}: {failed} items failed"


def test_check_passes_a_clean_job(make_sim, tmp_path: Path) -> None:
    sim = make_sim("healthy")
    cli("enable", "--minutes", "5", "--dir", str(tmp_path))
    ran = cli("run-job", "--server", sim.url, "--api-key", API_KEY, "--job-id", "clean", "--no-wait",
              "--dir", str(tmp_path), *sim.item_ids[:4])
    assert ran.returncode == 0, ran.stderr
    done = cli("summary", "clean", "--check", "--dir", str(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert cli("summary", "clean", "--failed-ids", "--dir", str(tmp_path)).stdout == ""
    with_json = cli("summary", "clean", "--check", "--json", "--dir", str(tmp_path))
    assert with_json.returncode == 0 and '"items_failed": 0' in with_json.stdout


WORKER = """
import sys
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.worker import WorkerConfig, run_job
setup(sys.argv[1])
run_job(WorkerConfig(server=sys.argv[2], api_key=sys.argv[3], min_interval=0, concurrency=3), sys.argv[4:],
        "stopped")
"""


@pytest.fixture
def stopped_job(make_sim, tmp_path: Path) -> tuple[Path, list[str]]:
    """A real job stopped by SIGTERM while its three posters were still trickling in."""
    # 64 KiB posters at 1 KiB/s: once an item's lookup and HEAD are done, its image GET is in flight for a minute.
    sim = make_sim("healthy", shapes=Shapes(image_bytes=64 << 10, image_rate=1 << 10))
    ids = sim.item_ids[:3]
    env = {**os.environ, "APHRODITE_BATCH_DEBUG": "true"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), sim.url, API_KEY, *ids],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    try:
        # Each item asks for its image only after its lookup and HEAD ended: three image GETs seen by the
        # server mean all three items are downloading, with two request records each.
        while sum(1 for r in sim.stats()["requests"] if r["method"] == "GET" and "/Images/" in r["path"]) < 3:
            assert worker.poll() is None, worker.stderr.read()
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    path = jobfile.newest_for(tmp_path, "stopped")
    assert path is not None
    return path, ids


def test_a_stopped_job_names_its_unfinished_items(stopped_job: tuple[Path, list[str]]) -> None:
    path, ids = stopped_job
    head = jobfile.load_head(path)
    assert head["complete"] is False and head["summary"]["items_unfinished"] == 3
    assert rerun.needs_requests(head)
    requests = jobfile.load(path)["requests"]
    unfinished = rerun.unfinished_item_ids(head, requests)
    assert sorted(unfinished) == sorted(ids)
    assert unfinished == list(dict.fromkeys(r["item_id"] for r in requests))  # in the order they began
    check = cli("summary", str(path), "--check")
    assert check.returncode == 1
    assert check.stderr.strip() == "job stopped: incomplete (the job did not end normally); 3 items unfinished"
    listed = cli("summary", str(path), "--failed-ids", "--with-unfinished")
    assert listed.returncode == 0 and listed.stdout.splitlines() == rerun.failed_item_ids(head) + unfinished
    assert cli("summary", str(path), "--failed-ids").stdout == ""  # nothing failed: it was stopped


@pytest.mark.parametrize("args,message", [
    (("--json", "--failed-ids"), "give one"),
    (("--with-unfinished",), "--with-unfinished goes with --failed-ids"),
])
def test_summary_refuses_flags_that_do_not_go_together(mixed_jobs: list[Path], args, message) -> None:
    done = cli("summary", str(mixed_jobs[0]), *args)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""
