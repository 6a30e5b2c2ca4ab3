"""The summary's "What the failures have in common" and "Compare with..." in headless Chromium, against the API.

Two runs of job ``nightly`` are recorded by the real pipeline: last night's
against a simulator with room to spare, tonight's against one whose rate
limit runs out after six requests. The dashboard runs as a real process; the
page must show the correlation's verdict and bars, and a comparison with the
base the server picks, exactly as the API answers them, under the page's
Content-Security-Policy and with no JS error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from batch_debug.collector import jobfile
from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from browser import Browser, browser_or_skip, visible
from dashboard_helpers import API, ServerProcess
from support import API_KEY, NO_WAIT

NIGHT = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Browser]:
    with browser_or_skip(tmp_path) as browser:
        yield browser


def _record(folder: Path, sim, ids: list[str], when: datetime, job_id: str = "nightly") -> None:
    result = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **NO_WAIT), ids, job_id)
    assert result.job_file is not None
    os.replace(result.job_file, folder / jobfile.filename(job_id, when))


def test_the_correlation_and_a_comparison_show_what_the_api_says(page: Browser, tmp_path: Path, job_dir: Path,
                                                                 make_sim) -> None:
    pipeline = setup(job_dir, switch=DebugSwitch(job_dir))
    pipeline.switch.enable(5)
    roomy = make_sim("rate-limited", rate_limit_per_second=1000.0, rate_limit_burst=1000)
    # Requests 10 to 29 get a proxy's 502: the server that answered sets the failures apart in every run.
    # (A tight rate limit did not: which requests got its first tokens varied, and with them the verdict.)
    outage = make_sim("proxy-outage")
    ids = roomy.item_ids[:10]
    _record(job_dir, roomy, ids, NIGHT)
    _record(job_dir, outage, ids, NIGHT + timedelta(days=1))
    _record(job_dir, roomy, ids[:2], NIGHT + timedelta(hours=12), job_id="clean-run")
    pipeline.switch.disable()
    server = ServerProcess(job_dir, tmp_path / "server.log")
    try:
        found = httpx.get(f"{server.url}{API}/job/nightly/correlate", timeout=10).json()
        compared = httpx.get(f"{server.url}{API}/compare", params={"head": "nightly"}, timeout=10).json()
        assert found["standing_out"], found["verdict"]  # the test must have something to draw
        page.goto(server.url + "/")
        page.wait_for("!!document.querySelector('[data-testid=session-row][data-job-id=nightly]')", what="the job")
        page.click("[data-testid=session-row][data-job-id=nightly] [data-testid=view-summary]")
        page.wait_for(visible("[data-testid=summary-card]"), what="the summary")
        page.wait_for(f"document.querySelector('[data-testid=correlate-verdict]').textContent === "
                      f"{json.dumps(found['verdict'])}", what="the correlation's verdict")
        standing = [d["dimension"] for d in found["dimensions"] if d["stands_out"]][:3]
        assert page.evaluate("[...document.querySelectorAll('[data-testid=correlate-dimension]')]"
                             ".map((d) => d.dataset.dimension)") == standing
        first = found["dimensions"][0]["values"][0]
        drawn = page.evaluate("(() => { const v = document.querySelector('[data-testid=correlate-value]');"
                              " return [v.dataset.value, Number(v.dataset.failedShare),"
                              " parseFloat(v.querySelector('.share-bar.failed').style.width)]; })()")
        assert drawn[:2] == [first["value"], first["failed_share"]]
        assert drawn[2] == pytest.approx(first["failed_share"] * 100, abs=0.05)  # the bar is as long as the share
        # The base choice lists last night's file; the default lets the server pick it.
        options = page.evaluate("[...document.querySelectorAll('#compare-base option')].map((o) => o.value)")
        assert options[0] == "" and compared["base"]["file"] in options  # the other files, newest first
        assert len(options) == 3
        page.click("[data-testid=compare-run]")
        page.wait_for("document.querySelectorAll('[data-testid=compare-change]').length > 0", what="the comparison")
        assert page.evaluate("[...document.querySelectorAll('[data-testid=compare-change]')]"
                             ".map((li) => li.textContent)") == compared["changes"]
        flipped = [row["item_id"] for row in compared["flipped"]["ok_to_failed"]]
        assert flipped and page.evaluate("[...document.querySelectorAll('[data-testid=flipped-row]')]"
                                         ".map((tr) => tr.dataset.itemId)") == flipped
        assert compared["base_chosen_because"] in page.text("[data-testid=compare-base-name]")
        assert "null" not in page.text("[data-testid=compare-result]")  # no absent part printed as text
        # A job in which nothing failed: the page says what the API says without asking it to read the file.
        clean = httpx.get(f"{server.url}{API}/job/clean-run/correlate", timeout=10).json()
        page.click("[data-testid=session-row][data-job-id=clean-run] [data-testid=view-summary]")
        page.wait_for(f"document.querySelector('[data-testid=correlate-verdict]').textContent === "
                      f"{json.dumps(clean['verdict'])}", what="the clean job's verdict")
        assert page.count("[data-testid=correlate-dimension]") == 0
        assert page.js_errors() == []
        assert page.csp_violations() == []
    finally:
        server.stop()
