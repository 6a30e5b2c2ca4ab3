"""The batch-debug command line, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batch_debug.collector import jobfile
from support import API_KEY, LoopbackServer, scan_for_secret, stop_process


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("APHRODITE_BATCH_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def test_help_lists_every_command() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for command in ("serve", "demo", "run-job", "enable", "disable", "status", "summary", "cleanup",
                    "jellyfin-sim", "har", "export", "trace"):
        assert command in out.stdout


def test_a_command_starts_without_the_heavy_modules_only_some_commands_need() -> None:
    # Every command starts by importing the CLI: the OTLP decoder, the SDK, the HTTP clients and Flask load
    # in the commands that use them (0.18 -> 0.09 s for `batch-debug status`).
    heavy = ("jsonschema", "google.protobuf", "opentelemetry.sdk.trace", "requests", "flask", "httpx", "aiohttp")
    out = subprocess.run([sys.executable, "-c", "import sys, batch_debug.dashboard.cli; "
                          f"print([m for m in {heavy!r} if m in sys.modules])"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_demo_prints_a_summary_and_writes_a_job_file(tmp_path: Path) -> None:
    out = cli("demo", "--items", "20", "--no-wait", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "Batch debug summary" in out.stdout and "Findings" in out.stdout and "What to do:" in out.stdout
    files = jobfile.list_job_files(tmp_path)
    assert len(files) == 1
    assert f"job file: {files[0].path}" in out.stdout
    assert jobfile.load(files[0].path)["summary"]["items_total"] == 20
    assert "demo-api-key" not in out.stdout + out.stderr
    assert scan_for_secret(tmp_path, "demo-api-key") == []


def test_enable_status_disable_round_trip(tmp_path: Path) -> None:
    assert cli("enable", "--minutes", "45", "--dir", str(tmp_path)).returncode == 0
    status = json.loads(cli("status", "--json", "--dir", str(tmp_path)).stdout)
    assert status["debug_enabled"] is True and status["source"] == "api"
    assert 44 * 60 <= status["remaining_seconds"] <= 45 * 60
    assert cli("disable", "--dir", str(tmp_path)).stdout.strip() == "debug disabled"
    assert json.loads(cli("status", "--json", "--dir", str(tmp_path)).stdout)["debug_enabled"] is False


def test_status_json_is_the_dashboards_status_document(tmp_path: Path) -> None:
    """The same folder through ``status --json`` and a real ``serve``'s GET /status: one document."""
    import httpx

    jobfile.write_atomic(tmp_path, "one", '{"job_id": "one", "summary": {}}')
    cli("enable", "--minutes", "5", "--dir", str(tmp_path))
    env = {k: v for k, v in os.environ.items() if k != "APHRODITE_BATCH_DEBUG_TOKEN"}
    server = subprocess.Popen([sys.executable, "-m", "batch_debug.dashboard.cli", "serve", "--port", "0", "--dir",
                               str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout.readline() == f"debug folder: {tmp_path.resolve()}\n"
        url = server.stdout.readline().split("listening on ")[1].strip()
        served = httpx.get(f"{url}api/v1/batch-debug/status", timeout=10).json()
    finally:
        stop_process(server)
    printed = json.loads(cli("status", "--json", "--dir", str(tmp_path)).stdout)
    assert list(printed) == list(served)
    assert abs(printed.pop("remaining_seconds") - served.pop("remaining_seconds")) <= 5  # a second or two apart
    assert printed == served and printed["debug_files_total"] == 1


def test_run_job_with_debug_on_prints_the_job_file(tmp_path: Path, make_sim) -> None:
    sim = make_sim("mixed", seed=2)
    cli("enable", "--minutes", "5", "--dir", str(tmp_path))
    ids = sim.demo_item_ids(8, seed=2)
    out = cli("run-job", "--server", sim.url, "--api-key", API_KEY, "--job-id", "cli-job", "--no-wait",
              "--dir", str(tmp_path), *ids)
    assert out.returncode == 1  # some demo ids are bad on purpose
    assert "job cli-job:" in out.stdout
    path = jobfile.newest_for(tmp_path, "cli-job")
    assert path is not None and f"debug file: {path}" in out.stdout
    assert API_KEY not in out.stdout + out.stderr
    assert scan_for_secret(tmp_path) == []
    summary = cli("summary", "cli-job", "--dir", str(tmp_path))
    assert summary.returncode == 0 and "job cli-job" in summary.stdout
    by_file = cli("summary", str(path), "--json")
    assert json.loads(by_file.stdout)["job_id"] == "cli-job"


def test_enabling_in_one_process_is_seen_by_a_worker_in_another(tmp_path: Path, make_sim) -> None:
    """A long-running worker process picks up `enable` made by a separate CLI process."""
    sim = make_sim("healthy")
    script = f"""
import sys
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.worker import WorkerConfig, run_job
pipeline = setup({str(tmp_path)!r})
config = WorkerConfig(server={sim.url!r}, api_key={API_KEY!r}, min_interval=0)
print("started", flush=True)
for n in range(1000):
    result = run_job(config, {sim.item_ids[:2]!r}, f"loop-{{n}}")
    if result.job_file:
        print("file", result.job_file, flush=True)
        break
    print("no file", flush=True)
    if sys.stdin.readline().strip() == "go on":  # the test says when, and when it enabled debug
        continue
    break
"""
    worker = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={k: v for k, v in os.environ.items() if k != "APHRODITE_BATCH_DEBUG"})
    try:
        assert worker.stdout.readline().strip() == "started"
        for _ in range(2):  # two whole jobs with debug off: the loop writes nothing
            assert worker.stdout.readline().strip() == "no file"
            assert jobfile.list_job_files(tmp_path) == []
            worker.stdin.write("go on\n")
            worker.stdin.flush()
        assert cli("enable", "--minutes", "5", "--dir", str(tmp_path)).returncode == 0
        line = worker.stdout.readline().strip()
        while line == "no file":  # jobs started within the worker's refresh interval still see "off"
            worker.stdin.write("go on\n")
            worker.stdin.flush()
            line = worker.stdout.readline().strip()
    finally:
        worker.kill()
        worker.wait()
    assert line.startswith("file ")
    assert len(jobfile.list_job_files(tmp_path)) == 1


@pytest.mark.parametrize("args,message", [
    (("summary", "no-such-job"), "no job file for job 'no-such-job'"),
    (("summary", ".."), "invalid job id"),
    (("summary", "a b"), "invalid job id"),
    (("cleanup", "--days", "-1"), "days must be"),
    (("enable", "--minutes", "0"), "Invalid value for '--minutes'"),
    (("enable", "--minutes", "1441"), "Invalid value for '--minutes'"),
    (("run-job", "--server", "http://127.0.0.1:9", "--api-key", "k", "x"), "cannot reach Jellyfin"),
    (("run-job", "--server", "ftp://x", "--api-key", "k", "x"), "server must be an http"),
    (("run-job", "--server", "http://127.0.0.1:9", "--api-key", "k", "--job-id", "../x", "x"),
     "invalid job id"),
])
def test_bad_input_gets_one_line_error_and_nonzero_exit(tmp_path: Path, args, message) -> None:
    out = cli(*args, "--dir", str(tmp_path)) if args[0] in ("summary", "cleanup", "enable") else cli(*args)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_cleanup_reports_what_it_freed(tmp_path: Path) -> None:
    jobfile.write_atomic(tmp_path, "a", "x" * 50)
    out = cli("cleanup", "--days", "0", "--dir", str(tmp_path))
    assert out.returncode == 0
    assert out.stdout.strip() == "deleted 1 job file(s), freed 50 bytes"


class _AnyPathServer(LoopbackServer):
    """A server that answers 200 with poster bytes to any path (a compromised or odd Jellyfin)."""

    POSTER = b"\x89PNG\r\n\x1a\n" + b"poster" * 100

    def __init__(self) -> None:
        super().__init__(lambda request: (200, {}, b"{}" if "/Images/" not in request.path else self.POSTER))


def test_run_job_saves_posters_only_inside_the_output_dir(tmp_path: Path) -> None:
    """Item ids that are paths (``../../x``, absolute, a link's name) must not write outside --output-dir."""
    out = tmp_path / "one" / "two" / "out"
    out.mkdir(parents=True)
    (tmp_path / "abs").mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("must stay as it is")
    (out / "linked.png").symlink_to(outside)
    hostile = ["../../../escaped", str(tmp_path / "abs" / "escaped"), "..", "linked"]
    server = _AnyPathServer()
    try:
        done = cli("run-job", "--server", server.url, "--api-key", API_KEY, "--min-interval", "0", "--max-attempts",
                   "1", "--output-dir", str(out), "--dir", str(tmp_path / "debug"), "-q", "good-item", *hostile)
    finally:
        server.close()
    assert done.returncode == 1, done.stderr
    assert (out / "good-item.png").read_bytes() == _AnyPathServer.POSTER
    assert sorted(p.name for p in tmp_path.rglob("escaped*")) == []
    assert outside.read_text() == "must stay as it is"
    for item in hostile[:3]:
        assert f"failed {item}: item id {item!r} is not a plain file name" in done.stdout
    assert "failed linked: could not save the poster" in done.stdout


def test_serve_dir_goes_to_the_app_not_the_environment(tmp_path: Path, monkeypatch) -> None:
    """In process, so the environment can be looked at afterwards: ``--dir`` must not be written into it."""
    from click.testing import CliRunner

    from batch_debug.dashboard.cli import main

    monkeypatch.delenv("APHRODITE_BATCH_DEBUG_TOKEN", raising=False)
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_DIR", str(tmp_path / "from-env"))
    before = dict(os.environ)
    # A refused address stops it right after the app is built, before anything listens (and before the folder
    # line: the refusal is the only line). test_status_json_is_the_dashboards_status_document serves --dir.
    done = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "0", "--dir", str(tmp_path / "given")])
    assert done.exit_code == 1 and "Refusing to serve on 0.0.0.0" in done.output
    assert "debug folder" not in done.output
    assert dict(os.environ) == before


def test_no_wait_sets_every_deliberate_wait_to_zero_and_nothing_else() -> None:
    from batch_debug.dashboard.cli_run import _without_waits
    from batch_debug.jellyfin.worker import WorkerConfig

    paced = WorkerConfig(server="http://127.0.0.1:9", api_key="k", concurrency=3, max_attempts=4)
    assert _without_waits(paced, False) is paced
    quick = _without_waits(paced, True)
    assert (quick.min_interval, quick.backoff, quick.max_retry_after) == (0.0, (0.0,), 0.0)
    assert (quick.concurrency, quick.max_attempts, quick.server) == (3, 4, paced.server)
