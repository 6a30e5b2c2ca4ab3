"""``batch-debug export``: a recorded job replayed to OTLP/HTTP receivers, run as a real process.

Receivers: the project's own ``POST /v1/traces`` (a real ``batch-debug serve``
process, which assembles the spans into a job file again) and ``oteltap`` (a
third-party receiver); what a receiver that keeps the raw bytes sees, and
refusals, are in ``test_cli_export_errors``.

The 10k-request job is recorded by the real reference worker (``batch-debug
run-job --concurrency 8 --no-wait`` against the simulator in this process,
serving 2 KB posters): about 7-8 s for 10,200 real requests, once per run. It
goes to oteltap (protobuf) and to our own receiver by both protocols, one
server for both; a 30-item job with failures checks every field of every
span, by both protocols, in small batches.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

import pytest

from batch_debug.collector import jobfile
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.simulator import JellyfinSimulator
from dashboard_helpers import ServerProcess
from export_helpers import cli
from otlp_support import OtelTap, wait_for
from support import API_KEY

#: Items of the big job: three requests each (lookup, HEAD and GET of the poster).
BIG_ITEMS = 3400


def spans_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for rs in job["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def span_facts(spans: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Everything a span says, in a canonical order (the receiver may group and order them differently)."""
    return sorted((s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"], s["kind"],
                   str(s["startTimeUnixNano"]), str(s["endTimeUnixNano"]),
                   json.dumps(s.get("attributes", []), sort_keys=True), json.dumps(s.get("events", []), sort_keys=True),
                   json.dumps(s.get("status", {}), sort_keys=True)) for s in spans)


@pytest.fixture(scope="session")
def big_job(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A job file of 10,200 requests (3,400 items), recorded by the real worker against the simulator.

    Recorded once for the whole run: the xdist workers share the base temp folder, and the first to
    take the lock records the job while the others wait for it (pytest-xdist's pattern).
    """
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = shared / "big-job"
    with open(shared / "big-job.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if folder.is_dir() and jobfile.list_job_files(folder):
            return jobfile.list_job_files(folder)[0].path
        folder.mkdir(exist_ok=True)
        return _record_big_job(folder)


def _record_big_job(folder: Path) -> Path:
    # 2 KB posters: the default ones are rendered pixel by pixel (about 6 ms each), which would cost
    # more than the 10k requests themselves.
    sim = JellyfinSimulator(profile="healthy", api_key=API_KEY, item_count=BIG_ITEMS,
                            shapes=Shapes(image_bytes=2048)).start()
    try:
        out = cli("run-job", "--server", sim.url, "--api-key", API_KEY, "--concurrency", "8", "--no-wait",
                  "--job-id", "big", *sim.item_ids, env={"APHRODITE_BATCH_DEBUG": "true",
                                                         "APHRODITE_BATCH_DEBUG_DIR": str(folder)})
    finally:
        sim.stop()
    assert out.returncode == 0, out.stderr[-3000:]
    [info] = jobfile.list_job_files(folder)
    assert jobfile.load_head(info.path)["summary"]["total_requests"] >= 10_000
    return info.path


# -- a job to our own receiver, the big job to one that is not ours ----------------
@pytest.fixture(scope="module")
def mixed_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30-item job with failures, retries and errors (the mixed profile), recorded by the real worker."""
    folder = tmp_path_factory.mktemp("mixed-job")
    out = cli("demo", "--items", "30", "--profile", "mixed", "--no-wait", "--dir", str(folder))
    assert out.returncode in (0, 1), out.stderr[-3000:]
    [info] = jobfile.list_job_files(folder)
    return info.path


def test_a_job_reaches_our_own_receiver_as_the_same_spans_by_either_protocol(mixed_job: Path, tmp_path: Path) -> None:
    original = jobfile.load(mixed_job)
    assert {s.get("status", {}).get("code") for s in spans_of(original)} >= {2}  # errors are in it
    server = ServerProcess(tmp_path / "received", tmp_path / "server.log")
    try:
        for number, protocol in enumerate(("http/protobuf", "http/json"), start=1):
            # Small batches: the job goes out in several requests, as a big job does.
            out = cli("export", str(mixed_job), "--endpoint", server.url, "--protocol", protocol, "--batch-size", "16")
            assert out.returncode == 0, out.stderr
            count = len(spans_of(original))
            assert out.stdout.strip() == f"exported {count} spans of job {original['job_id']} to {server.url}/v1/traces"
            assert out.stderr == ""  # no progress bar outside a terminal, no exporter log lines
            files = wait_for(lambda n=number: len(jobfile.list_job_files(tmp_path / "received")) == n
                             and jobfile.list_job_files(tmp_path / "received"))
            assert files, f"{protocol}: no job file assembled; server log: {server.log.read_text()[-2000:]}"
            rebuilt = jobfile.load(files[0].path)  # the newest
            assert rebuilt["job_id"] == original["job_id"] and rebuilt["trace_id"] == original["trace_id"]
            assert span_facts(spans_of(rebuilt)) == span_facts(spans_of(original)), protocol
            assert rebuilt["summary"] == original["summary"]
    finally:
        server.stop()


def test_a_10k_request_job_reaches_oteltap_with_its_ids_unchanged(big_job: Path) -> None:
    original = spans_of(jobfile.load(big_job))
    wanted = {(s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"]) for s in original}
    tap = OtelTap()
    try:
        out = cli("export", str(big_job), "--endpoint", tap.url)
        assert out.returncode == 0, out.stderr
        received = wait_for(lambda: len(tap.collected()) >= len(original) and tap.collected())
    finally:
        tap.stop()
    assert received, "oteltap got fewer spans than the job has"
    assert len(received) == len(original)
    assert {(s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"]) for s in received} == wanted


def test_a_10k_request_job_reaches_our_own_receiver_with_its_ids_unchanged_by_either_protocol(
        big_job: Path, tmp_path: Path) -> None:
    original = jobfile.load(big_job)
    ids = sorted((s["traceId"], s["spanId"], s.get("parentSpanId", "")) for s in spans_of(original))
    received = tmp_path / "received"
    server = ServerProcess(received, tmp_path / "server.log")
    try:
        # One server for both: the second export of the same trace is assembled into a second job file.
        for number, protocol in enumerate(("http/protobuf", "http/json"), start=1):
            out = cli("export", str(big_job), "--endpoint", server.url, "--protocol", protocol)
            assert out.returncode == 0, (protocol, out.stderr)
            assert out.stdout.startswith(f"exported {len(ids)} spans of job big to "), protocol
            files = wait_for(lambda n=number: len(jobfile.list_job_files(received)) == n
                             and jobfile.list_job_files(received))
            assert files, f"{protocol}: no job file assembled; server log: {server.log.read_text()[-2000:]}"
            rebuilt = jobfile.load(files[0].path)  # the newest
            assert sorted((s["traceId"], s["spanId"], s.get("parentSpanId", "")) for s in spans_of(rebuilt)) == ids
            assert rebuilt["summary"]["total_requests"] == original["summary"]["total_requests"] >= 10_000
    finally:
        server.stop()


# -- what the receiver gets, and failures ---------------------------------------
