"""The Jellyfin API key never leaks: one real job per auth form, every byte produced is scanned.

Scanned: the debug folder, the OTLP protobuf an exporter would send, every log
line (DEBUG and up, httpx and httpcore included), the CLI's output and the
dashboard's answers (the protobuf trace, HAR, correlation and comparison among them).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

from datetime import datetime, timezone

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from batch_debug.collector import jobfile
from batch_debug.dashboard.app import create_app
from batch_debug.instrumentation import item_span, job_span
from support import API_KEY

FORMS = {
    "authorization": ({"Authorization": f'MediaBrowser Client="t", Device="d", DeviceId="1", Version="1", '
                                        f'Token="{API_KEY}"'}, {}),
    "emby-authorization": ({"X-Emby-Authorization": f'MediaBrowser Token="{API_KEY}"'}, {}),
    "x-emby-token": ({"X-Emby-Token": API_KEY}, {}),
    "x-mediabrowser-token": ({"X-MediaBrowser-Token": API_KEY}, {}),
    "ApiKey": ({}, {"ApiKey": API_KEY}),
    "api_key": ({}, {"api_key": API_KEY}),
    "APIKEY-any-case": ({}, {"APIKEY": API_KEY}),
}


@pytest.fixture
def all_logs():
    """Every log record of the process, formatted, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_the_key_leaks_nowhere(form, debug_pipeline, recorded_spans, make_sim, debug_dir, all_logs) -> None:
    sim = make_sim("mixed", seed=8)
    headers, params = FORMS[form]
    ids = sim.demo_item_ids(8, seed=8)
    job_id = f"secret-{form.lower()}"
    with job_span(job_id):
        with httpx.Client(headers=headers, params=params) as client:
            login = client.post(f"{sim.url}/Users/AuthenticateByName", json={"Username": "u", "Pw": "p"})
            assert API_KEY in login.text  # the server does hand out the token
            for item_id in ids:
                with item_span(item_id) as item:
                    answer = client.get(f"{sim.url}/Items/{item_id}")
                    item.set_attribute("note", f"fetched with {API_KEY}")  # job code describing an item carelessly
                    if answer.status_code != 200:
                        # Job code that pastes a body into its error, as real code does.
                        item.fail(f"lookup failed: {answer.status_code} {login.text}")
                        continue
                    client.head(f"{sim.url}/Items/{item_id}/Images/Primary")
                    client.get(f"{sim.url}/Items/{item_id}/Images/Primary")
    path = debug_pipeline.job_file(job_id)
    assert path is not None
    produced = {"job file": path.read_bytes(),
                "otlp export": encode_spans(recorded_spans.get_finished_spans()).SerializeToString(),
                "logs": all_logs.getvalue().encode()}
    assert b"Authorization" in produced["logs"] or b"HTTP Request" in produced["logs"]  # logs were captured

    app = create_app({"DEBUG_DIR": str(debug_dir), "API_TOKEN": "", "JELLYFIN_URL": sim.url,
                      "JELLYFIN_API_KEY": API_KEY})
    client = app.test_client()
    base = "/api/v1/batch-debug"
    # An earlier run of the same job, for /compare to pick as its base.
    earlier = path.with_name(jobfile.filename(job_id, datetime(2026, 1, 1, tzinfo=timezone.utc)))
    earlier.write_bytes(path.read_bytes())
    for url in ("/status", "/jobs", f"/job/{job_id}/summary", f"/job/{job_id}/full-log", f"/job/{job_id}/trace",
                f"/job/{job_id}/trace?format=protobuf", f"/job/{job_id}/har", f"/job/{job_id}/correlate",
                f"/compare?head={job_id}"):
        answer = client.get(base + url)
        assert answer.status_code == 200, url
        produced[f"GET {url}"] = answer.data
    tested = client.post(base + "/test-item", json={"item_id": ids[0]})
    assert tested.status_code == 200
    produced["POST /test-item"] = tested.data
    leaks = [where for where, data in produced.items() if API_KEY.encode() in data]
    assert leaks == []
    assert b"[REDACTED]" in produced["job file"]  # the key was in what was recorded, and was removed


@pytest.mark.parametrize("auth", ["header", "query", "legacy-header", "legacy-query"])
def test_the_cli_never_prints_the_key(auth, make_sim, tmp_path) -> None:
    sim = make_sim("bad-auth")
    env = {**os.environ, "APHRODITE_BATCH_DEBUG": "true", "APHRODITE_BATCH_DEBUG_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", "-v", "run-job", "--server", sim.url,
                          "--api-key", API_KEY, "--auth", auth, "--min-interval", "0", "--job-id", "cli-secret",
                          *sim.item_ids[:3]], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1  # bad-auth: every lookup answers 401
    assert "HTTP Request" in out.stderr  # -v shows httpx's request lines, redacted
    assert API_KEY not in out.stdout + out.stderr
    summary = subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", "summary", "cli-secret"],
                             capture_output=True, text=True, env=env)
    assert summary.returncode == 0 and "401" in summary.stdout
    assert API_KEY not in summary.stdout + summary.stderr
    assert all(API_KEY.encode() not in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
