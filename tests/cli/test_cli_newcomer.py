"""What a newcomer meets on the command line: errors to act on, busy ports, and next steps that work as typed."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_debug.collector import jobfile
from support import API_KEY, stop_process

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "APHRODITE_BATCH_DEBUG"}
    return subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", *args], capture_output=True,
                          text=True, env={**full_env, **(env or {})}, cwd=cwd, timeout=120)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("args", [("summary", "{tmp}/missing.json"), ("summary", "missing.json"),
                                  ("summary", "{tmp}/nowhere/job_x_20260101_000000.json"),
                                  ("summary", "../etc/passwd"), ("summary", "a/b", "--failed-ids")])
def test_a_path_that_is_not_there_is_no_such_file(tmp_path: Path, args) -> None:
    args = tuple(a.format(tmp=tmp_path) for a in args)
    done = cli(*args, "--dir", str(tmp_path))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"Error: no such file: {args[1]}\n"


def test_a_job_file_given_by_path_is_read(tmp_path: Path) -> None:
    jobfile.write_atomic(tmp_path, "by-path", json.dumps({"job_id": "by-path", "summary": {"job_id": "by-path"},
                                                          "items": [{"item_id": "a", "outcome": "failed"}]}))
    [info] = jobfile.list_job_files(tmp_path)
    relative = os.path.relpath(info.path, tmp_path.parent)
    assert cli("summary", relative, "--failed-ids", cwd=tmp_path.parent).stdout == "a\n"


@pytest.mark.parametrize("command", [("status",), ("status", "--json"), ("cleanup", "--days", "3"),
                                     ("summary", "some-job")])
def test_a_folder_that_does_not_exist_is_named(tmp_path: Path, command) -> None:
    missing = tmp_path / "does" / "not" / "exist"
    done = cli(*command, "--dir", str(missing))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"Error: the folder {missing} does not exist; --dir must name the debug folder your "
                           f"jobs write to\n")
    assert not missing.exists()  # asking did not create it


def test_the_default_folder_missing_says_how_to_name_another(tmp_path: Path) -> None:
    done = cli("cleanup", "--days", "3", cwd=tmp_path, env={"APHRODITE_BATCH_DEBUG_DIR": str(tmp_path / "nope")})
    assert done.returncode == 1
    assert "does not exist yet" in done.stderr and "APHRODITE_BATCH_DEBUG_DIR" in done.stderr


def test_status_before_any_job_still_tells_the_truth_about_debug(tmp_path: Path) -> None:
    # The default folder is made by the first job or `enable`; until then the env var can still switch debug on.
    missing = tmp_path / "nope"
    done = cli("status", cwd=tmp_path, env={"APHRODITE_BATCH_DEBUG_DIR": str(missing), "APHRODITE_BATCH_DEBUG": "true"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["debug: ON (source: env)",
                                            f"folder: {missing} (does not exist yet: no job has written there)"]
    assert not missing.exists()


def test_jellyfin_sim_on_a_busy_port_prints_only_the_error(busy_port: int) -> None:
    done = cli("jellyfin-sim", "--port", str(busy_port))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"Error: port {busy_port} on 127.0.0.1 is in use; choose another with --port "
                           f"(0 picks a free one)\n")


def test_jellyfin_sim_banner_shows_the_real_port() -> None:
    sim = subprocess.Popen([sys.executable, "-m", "batch_debug.dashboard.cli", "jellyfin-sim", "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = sim.stdout.readline()
        port = int(banner.split("http://127.0.0.1:")[1].split(";")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # listening already when the banner names it
    finally:
        stop_process(sim)


@pytest.mark.parametrize("env", [{}, {"PYTHONWARNINGS": "default", "PYTHONDEVMODE": "1"}],
                         ids=["plain", "warnings-on"])
def test_serve_on_a_busy_port_prints_one_clean_line(tmp_path: Path, busy_port: int, env) -> None:
    done = cli("serve", "--port", str(busy_port), "--dir", str(tmp_path), env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"Error: port {busy_port} on 127.0.0.1 is in use: stop what listens there, or "
                           f"choose another port (--port; 0 picks a free one).\n")


def test_run_job_with_debug_off_says_no_file_and_how_to_switch_it_on(tmp_path: Path, make_sim) -> None:
    sim = make_sim("healthy")
    done = cli("run-job", "--server", sim.url, "--api-key", API_KEY, "--no-wait", "--dir", str(tmp_path),
               *sim.item_ids[:2])
    assert done.returncode == 0, done.stderr
    assert jobfile.list_job_files(tmp_path) == []
    assert "debug is off, so no job file was written" in done.stderr
    assert f"batch-debug enable --minutes 30 --dir {tmp_path}" in done.stderr
    assert "debug file:" not in done.stdout


def test_progress_outside_a_terminal_leaves_no_lone_label(tmp_path: Path, make_sim) -> None:
    sim = make_sim("healthy")
    cli("enable", "--minutes", "5", "--dir", str(tmp_path))
    done = cli("run-job", "--server", sim.url, "--api-key", API_KEY, "--no-wait", "--dir", str(tmp_path),
               *sim.item_ids[:3])
    assert done.returncode == 0, done.stderr
    assert "posters" not in done.stdout + done.stderr
    assert done.stderr == ""
    assert "3/3 items succeeded" in done.stdout


def _demo_next_steps(cwd: Path, env: dict[str, str], *args: str) -> list[str]:
    done = cli("demo", "--items", "8", "--no-wait", *args, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return lines[lines.index("next:") + 1:]


def _run_as_typed(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = line.split("  #")[0].strip()
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_demo_next_steps_work_as_typed_in_a_fresh_shell(tmp_path: Path) -> None:
    """Without the venv on PATH, run from the checkout: the printed commands name ``.venv/bin/batch-debug``."""
    bin_folder = Path(sys.executable).parent
    if not (bin_folder / "batch-debug").is_file():
        pytest.skip("batch-debug is not installed beside this interpreter")
    fresh = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    workdir = bin_folder.parent.parent  # the folder holding the venv, as `make demo` runs from the checkout
    steps = _demo_next_steps(workdir, fresh, "--dir", str(tmp_path))
    shown = shlex.quote(os.path.relpath(bin_folder / "batch-debug", workdir))
    assert steps[0].startswith(f"  {shown} summary ")
    summary = _run_as_typed(steps[0], workdir, fresh)
    assert summary.returncode == 0 and "Batch debug summary" in summary.stdout, summary.stderr
    failed = _run_as_typed(steps[1], workdir, fresh)
    assert failed.returncode == 0 and failed.stdout.split(), failed.stderr
    assert f"{shown} serve --dir {tmp_path}" in steps[2]
    assert any("not on PATH" in line for line in steps)
    if (bin_folder / "activate").is_file():
        assert any(f"source {shlex.quote(os.path.relpath(bin_folder / 'activate', workdir))}" in line
                   for line in steps)


def test_demo_next_steps_use_the_bare_name_when_path_finds_it(tmp_path: Path) -> None:
    bin_folder = Path(sys.executable).parent
    if not (bin_folder / "batch-debug").is_file():
        pytest.skip("batch-debug is not installed beside this interpreter")
    env = {"PATH": f"{bin_folder}:/usr/bin:/bin"}
    steps = _demo_next_steps(tmp_path, env, "--dir", str(tmp_path / "debug"))
    assert steps[0].startswith("  batch-debug summary ") and "--dir" in steps[0]
    assert not any("not on PATH" in line for line in steps)
    assert _run_as_typed(steps[0], tmp_path, env).returncode == 0


def test_demo_in_the_default_folder_mentions_make_dashboard_where_there_is_one(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("dashboard:\n\tbatch-debug serve\n")
    steps = _demo_next_steps(tmp_path, {"APHRODITE_BATCH_DEBUG_DIR": "./debug_logs/batch_jobs"})
    assert "--dir" not in "".join(steps)
    assert any(line.strip().startswith("make dashboard") for line in steps)
    (tmp_path / "Makefile").write_text("demo:\n\tbatch-debug demo\n")
    steps = _demo_next_steps(tmp_path, {"APHRODITE_BATCH_DEBUG_DIR": "./debug_logs/batch_jobs"})
    assert not any("make dashboard" in line for line in steps)
