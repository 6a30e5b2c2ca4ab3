"""Zero-code mode: the same job script, run under opentelemetry-instrument with otel-config.yaml
and run after setup(), writes job files with the same content (real processes, real simulator)."""

from __future__ import annotations

from pathlib import Path

from batch_debug.collector import jobfile
from otlp_support import OtelTap, free_port, job_essence, run_poster_job, wait_for
from support import API_KEY, scan_for_secret


def _job(folder: Path, job_id: str) -> dict:
    path = jobfile.newest_for(folder, job_id)
    assert path is not None, f"no job file for {job_id} in {folder}"
    return jobfile.load(path)


def test_zero_code_and_setup_write_the_same_job_file(make_sim, tmp_path: Path) -> None:
    # One simulator each: the flaky answers depend on what a simulator has already served.
    sim, twin = make_sim("mixed", seed=13), make_sim("mixed", seed=13)
    items = sim.demo_item_ids(12, seed=13)
    assert twin.demo_item_ids(12, seed=13) == items
    dead = f"http://127.0.0.1:{free_port()}"  # no receiver: export fails quietly, files are still written
    common = {"APHRODITE_BATCH_DEBUG": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": dead, "OTEL_EXPORTER_OTLP_TIMEOUT": "1"}
    run_poster_job("setup", sim.url, API_KEY, "same-job", items,
                   APHRODITE_BATCH_DEBUG_DIR=str(tmp_path / "setup"), **common)
    zero = run_poster_job("zero-code", twin.url, API_KEY, "same-job", items,
                          APHRODITE_BATCH_DEBUG_DIR=str(tmp_path / "zero"), **common)
    with_setup, zero_code = _job(tmp_path / "setup", "same-job"), _job(tmp_path / "zero", "same-job")
    assert with_setup["summary"]["failed_requests"] > 0 and with_setup["summary"]["retries"] > 0
    assert job_essence(zero_code) == job_essence(with_setup), zero.stderr[-2000:]
    assert scan_for_secret(tmp_path) == []


def test_zero_code_records_nothing_while_debug_is_off(make_sim, tmp_path: Path) -> None:
    sim = make_sim("healthy")
    tap = OtelTap()
    try:
        run_poster_job("zero-code", sim.url, API_KEY, "quiet-job", sim.item_ids[:3],
                       APHRODITE_BATCH_DEBUG_DIR=str(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=tap.url)
        # Then a job with debug on to the same receiver: once its spans are in, the first job's would be too.
        run_poster_job("zero-code", sim.url, API_KEY, "loud-job", sim.item_ids[:3], APHRODITE_BATCH_DEBUG="on",
                       APHRODITE_BATCH_DEBUG_DIR=str(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT=tap.url)
        spans = wait_for(lambda: [s for s in tap.collected() if s["name"] == "batch job"])
    finally:
        tap.stop()
    assert [f.job_id for f in jobfile.list_job_files(tmp_path)] == ["loud-job"]
    assert len(spans) == 1
    assert {a["key"]: a["value"] for a in spans[0]["attributes"]}["batch_debug.job.id"] == {"stringValue": "loud-job"}
    assert len(tap.collected()) == 1 + 3 + 9  # the job, its items and their requests; nothing of the quiet job
