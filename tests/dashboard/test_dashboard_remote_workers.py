"""Workers on other hosts: two worker processes that share no folder with the sidecar follow its
switch over HTTP and send their spans to its /v1/traces; the job files it writes say what a local
worker's file says about the same items."""

from __future__ import annotations

from pathlib import Path

import httpx

from batch_debug.collector import jobfile
from dashboard_helpers import API, ServerProcess
from otlp_support import job_essence, run_poster_job, wait_for
from support import API_KEY, scan_for_secret

TOKEN = "sidecar-t0ken-for-remote-workers"


def test_remote_workers_write_through_the_sidecar_what_a_local_worker_writes(make_sim, tmp_path: Path) -> None:
    # One simulator per worker, alike: what a simulator answers depends on what it already served.
    sims = [make_sim("mixed", seed=17) for _ in range(3)]
    items = sims[0].demo_item_ids(10, seed=17)
    sidecar_dir = tmp_path / "sidecar"
    sidecar = ServerProcess(sidecar_dir, tmp_path / "sidecar.log", APHRODITE_BATCH_DEBUG_TOKEN=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    remote = {"APHRODITE_BATCH_DEBUG_URL": sidecar.url, "APHRODITE_BATCH_DEBUG_TOKEN": TOKEN,
              "OTEL_EXPORTER_OTLP_ENDPOINT": sidecar.url}
    try:
        httpx.post(f"{sidecar.url}{API}/enable", json={"duration_minutes": 5}, headers=auth).raise_for_status()
        for n, name in enumerate(("remote-a", "remote-b")):
            run_poster_job("setup", sims[n].url, API_KEY, name, items,
                           APHRODITE_BATCH_DEBUG_DIR=str(tmp_path / f"host-{name}"), **remote)
        run_poster_job("setup", sims[2].url, API_KEY, "local", items, APHRODITE_BATCH_DEBUG="true",
                       APHRODITE_BATCH_DEBUG_DIR=str(tmp_path / "local"))
        assembled = {name: wait_for(lambda name=name: jobfile.newest_for(sidecar_dir, name))
                     for name in ("remote-a", "remote-b")}
        assert all(assembled.values()), sidecar.log.read_text()[-3000:]

        httpx.post(f"{sidecar.url}{API}/disable", headers=auth).raise_for_status()
        run_poster_job("setup", sims[0].url, API_KEY, "while-off", items[:2],
                       APHRODITE_BATCH_DEBUG_DIR=str(tmp_path / "host-off"), **remote)
        status = httpx.get(f"{sidecar.url}{API}/status", headers=auth).json()
    finally:
        sidecar.stop()
    local = job_essence(jobfile.load(jobfile.newest_for(tmp_path / "local", "local")))
    assert local["summary"]["failed_requests"] > 0
    for name, path in assembled.items():
        assert job_essence(jobfile.load(path)) == local, name
    assert sorted(f["job_id"] for f in status["recent_debug_files"]) == ["remote-a", "remote-b"]  # none while off
    assert jobfile.list_job_files(tmp_path / "host-off") == []
    assert scan_for_secret(sidecar_dir) == []


def test_without_the_token_the_sidecar_takes_no_spans(make_sim, tmp_path: Path) -> None:
    sim = make_sim("healthy")
    sidecar_dir = tmp_path / "sidecar"
    sidecar = ServerProcess(sidecar_dir, tmp_path / "sidecar.log", APHRODITE_BATCH_DEBUG_TOKEN=TOKEN)
    try:
        httpx.post(f"{sidecar.url}{API}/enable", json={"duration_minutes": 5},
                   headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status()
        # Debug on in the worker itself, spans sent without the token: refused, and the job still finishes.
        done = run_poster_job("setup", sim.url, API_KEY, "tokenless", sim.item_ids[:2], APHRODITE_BATCH_DEBUG="true",
                              APHRODITE_BATCH_DEBUG_DIR=str(tmp_path / "host"), OTEL_EXPORTER_OTLP_ENDPOINT=sidecar.url)
    finally:
        sidecar.stop()
    assert done.returncode == 0
    assert jobfile.newest_for(tmp_path / "host", "tokenless") is not None
    assert jobfile.list_job_files(sidecar_dir) == []
    assert " 401" in sidecar.log.read_text()
