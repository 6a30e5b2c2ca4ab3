"""The web page in headless Chromium, as an operator uses it.

Starts the dashboard as a real process with a token and a Jellyfin server
configured, opens the page, unlocks it with the token, switches debug on,
runs a batch in a separate worker process, watches it live, opens its summary
and timeline, downloads its full log, runs a Custom ID Test, saves a
screenshot to ``test-artifacts/dashboard.png`` and cleans up. All of it
under the dashboard's Content-Security-Policy: any violation (an inline
style, an inline script, a foreign asset) fails the test. A page on another
site cannot frame the dashboard.

Selenium drives Debian's ``chromium`` through Debian's ``chromedriver``
(``browser.py``). Skipped only when one of the two is not installed and
``CI`` is unset; under CI a missing one fails the run.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from batch_debug.dashboard.headers import PAGE_CSP
from browser import Browser, browser_or_skip, visible
from dashboard_helpers import API, SIM_KEY, ServerProcess, start_worker, step_through

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "test-artifacts" / "dashboard.png"
TOKEN = "browser-test-token-5f1c"
JOB = "browser-job"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless browser that saves downloads into ``tmp_path / "downloads"``."""
    with browser_or_skip(tmp_path) as browser:
        yield browser


def wait_downloaded(folder: Path, pattern: str, timeout: float = 15.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {pattern} downloaded into {folder}: {sorted(p.name for p in folder.iterdir())}")


def assert_page_headers(url: str) -> None:
    """The page is served with the CSP and the anti-framing headers the browser then enforces."""
    headers = httpx.get(url + "/", timeout=10).headers
    assert headers["Content-Security-Policy"] == PAGE_CSP
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def unlock_and_enable(page: Browser) -> None:
    page.wait_for(visible("[data-testid=token-card]"), what="the token prompt")
    assert page.evaluate("document.querySelector('[data-testid=connection-state]').dataset.state") == "error"
    page.fill("[data-testid=token-input]", "wrong-token")
    page.click("[data-testid=token-save]")
    page.wait_for("document.querySelector('[data-testid=token-error]').textContent.includes('refused')",
                  what="the refused-token message")
    page.fill("[data-testid=token-input]", TOKEN)
    page.click("[data-testid=token-save]")
    page.wait_for("document.querySelector('[data-testid=connection-state]').dataset.state === 'live'",
                  what="the page to go live with the token")
    assert page.evaluate(f"sessionStorage.getItem('batchDebugToken') === '{TOKEN}'")
    assert page.evaluate("document.querySelector('[data-testid=debug-badge]').dataset.enabled") == "false"
    page.fill("[data-testid=duration-input]", "15")
    page.click("[data-testid=enable-button]")
    page.wait_for("document.querySelector('[data-testid=debug-badge]').dataset.enabled === 'true'",
                  what="the badge to say On")
    remaining = page.text("[data-testid=debug-remaining]")
    assert remaining.endswith("left") and remaining.startswith(("15:00", "14:5")), remaining


def test_operator_flow_in_a_real_browser(page: Browser, tmp_path: Path, job_dir: Path, mixed_sim) -> None:
    downloads = tmp_path / "downloads"
    server = ServerProcess(job_dir, tmp_path / "server.log", APHRODITE_BATCH_DEBUG_TOKEN=TOKEN,
                           JELLYFIN_URL=mixed_sim.url, JELLYFIN_API_KEY=SIM_KEY)
    try:
        assert_page_headers(server.url)
        page.goto(server.url + "/")
        unlock_and_enable(page)

        # A batch runs in another process; the page shows it live, then in the list.
        # The worker waits after its first item until the page has shown it running (no pacing).
        worker = start_worker(job_dir, mixed_sim.url, SIM_KEY, JOB, mixed_sim.demo_item_ids(8), stepped=True)
        progress_texts: list[str] = []

        def look() -> None:
            if not progress_texts:
                page.wait_for(f"!!document.querySelector('[data-testid=active-job][data-job-id={JOB}]')",
                              timeout=30, what="the running job in Active jobs")
                progress_texts.append(page.text(f"[data-testid=active-job][data-job-id={JOB}]"))

        result = step_through(worker, look)
        assert "/ 8 items" in progress_texts[0]
        assert result["job_file"]
        row = f"[data-testid=session-row][data-job-id={JOB}]"
        page.wait_for(f"!!document.querySelector('{row}')", what="the job in Recent debug sessions")
        page.wait_for("!document.querySelector('[data-testid=active-job]')", what="the job to leave Active jobs")

        # Summary and timeline.
        page.click(f"{row} [data-testid=view-summary]")
        page.wait_for(visible("[data-testid=summary-card]"), what="the summary card")
        summary = json.loads(Path(result["job_file"]).read_text())["summary"]
        assert page.text("#tile-total") == str(summary["total_requests"])
        assert page.text("#tile-failed") == str(summary["failed_requests"])
        assert page.text("#rate-requests-value") == f"{summary['success_rate_percent']:.1f}%"
        assert page.text("#rate-items-value") == f"{summary['item_success_rate_percent']:.1f}%"
        assert page.count("[data-testid=status-row]") == len(summary["status_code_breakdown"])
        shown = page.evaluate("[...document.querySelectorAll('#recommendations [data-testid=finding]')]"
                              ".map((e) => e.dataset.findingId)")
        assert shown == [f["id"] for f in summary["findings"]] and shown
        assert page.count("#recommendations [data-testid=recommendation]") == 0
        assert page.count("[data-testid=pattern]") == len(summary["failure_patterns"])
        assert page.count("[data-testid=timeline-row]") == summary["total_requests"]
        assert page.count("[data-testid=timeline-row] .tl-bar.s-2xx") == summary["successful_requests"]
        assert page.count("[data-testid=timeline-row] .tl-bar.s-4xx") >= 2  # the 400 and the 404
        assert page.count("[data-testid=timeline-row] .tl-bar.s-5xx") >= 3  # the broken item's tries
        assert page.count("[data-testid=retry-tag]") == summary["retries"] > 0
        assert page.count("[data-testid=timeline-row][data-conn=new]") >= 1
        assert page.count("[data-testid=timeline-row][data-conn=reused]") >= 1

        # Downloads go through fetch with the token, then save as files.
        page.click(f"{row} [data-testid=download-log]")
        log = wait_downloaded(downloads, f"job_{JOB}_*.json")
        assert log.read_bytes() == Path(result["job_file"]).read_bytes()
        page.click("[data-testid=summary-download-trace]")
        trace = json.loads(wait_downloaded(downloads, f"job_{JOB}_trace.json").read_text())
        assert list(trace) == ["resourceSpans"] and trace["resourceSpans"]

        # Custom ID test on an item that always fails.
        page.fill("[data-testid=test-item-id]", mixed_sim.broken_item_ids[0])
        page.click("[data-testid=test-run]")
        page.wait_for("document.querySelector('[data-testid=test-result]').dataset.ok === 'false'",
                      what="the Custom ID test result")
        assert page.count("[data-testid=test-attempt]") == 3
        assert page.evaluate("[...document.querySelectorAll('[data-testid=test-result] [data-testid=finding]')]"
                             ".map((e) => e.dataset.findingId)") == ["item_server_errors"]

        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(SCREENSHOT)
        assert SCREENSHOT.stat().st_size > 50_000

        # Cleanup of every file, after the page asks to confirm.
        page.driver.execute_script("window.confirm = (m) => { window.__asked = m; return true; };")
        page.fill("[data-testid=cleanup-days]", "0")
        page.click("[data-testid=cleanup-button]")
        page.wait_for(visible("[data-testid=sessions-empty]"), what="the emptied session list")
        assert "ALL debug files" in page.evaluate("window.__asked")
        assert page.text("[data-testid=cleanup-result]").startswith("Deleted 1 file")
        assert not page.evaluate(visible("[data-testid=summary-card]"))
        assert list(job_dir.glob("job_*.json")) == []

        page.click("[data-testid=disable-button]")
        page.wait_for("document.querySelector('[data-testid=debug-badge]').dataset.enabled === 'false'",
                      what="the badge to say Off")
        assert page.js_errors() == []
        assert page.csp_violations() == []
    finally:
        server.stop()


V1_FILE = REPO / "tests" / "data" / "job_v1-fixture_20261129_144406.json"


def _crashed(document: dict) -> dict:
    """A version 2 file of a job whose code raised after 2 of 5 items."""
    summary = document["summary"]
    summary.update(complete=False, job_error={"type": "ValueError", "message": "ValueError: bad row"},
                   items_total=5, items_started=3, items_unfinished=1, items_not_started=2)
    document.update(complete=False, job_error=summary["job_error"], format_version=2)
    # Its first poster came back as a sign-in page with 200: the timeline says what the answer held.
    document["requests"][0].update(body_kind="html", content_type="text/html", body_text="Sign in to continue")
    # Its second got no connection: the row's tooltip gives the client's words.
    document["requests"][1].update(status_code=None, error_type="ConnectError", error_phase="connect",
                                   error_message="ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                                                 "verify failed: certificate has expired (_ssl.c:1006)")
    summary["findings"] = [{"id": "job_crashed", "cause": "The job stopped with ValueError.", "confidence": "high",
                            "action": "Fix the error.", "evidence": {"attempts": 0, "items": 0}}]
    return document


def test_old_and_crashed_job_files_render_in_a_real_browser(page: Browser, tmp_path: Path, job_dir: Path) -> None:
    """A file of format version 1 shows its recommendations; a crashed job shows why it stopped."""
    (job_dir / V1_FILE.name).write_bytes(V1_FILE.read_bytes())
    crashed = _crashed(json.loads(V1_FILE.read_text()))
    crashed["job_id"] = crashed["summary"]["job_id"] = "crashed-job"
    (job_dir / "job_crashed-job_20261129_150000.json").write_text(json.dumps(crashed))
    server = ServerProcess(job_dir, tmp_path / "server.log")
    try:
        page.goto(server.url + "/")
        for job in ("v1-fixture", "crashed-job"):
            page.wait_for(f"!!document.querySelector('[data-testid=session-row][data-job-id={job}]')",
                          what=f"{job} in Recent debug sessions")
        page.click("[data-testid=session-row][data-job-id=v1-fixture] [data-testid=view-summary]")
        page.wait_for(visible("[data-testid=summary-card]"), what="the v1 summary")
        page.wait_for("document.querySelector('#summary-job').textContent === 'v1-fixture'", what="v1 loaded")
        old = json.loads(V1_FILE.read_text())["summary"]["recommendations"]
        assert page.count("#recommendations [data-testid=recommendation]") == len(old) == 4
        assert not page.evaluate(visible("[data-testid=summary-life]"))
        page.click("[data-testid=session-row][data-job-id=crashed-job] [data-testid=view-summary]")
        page.wait_for("document.querySelector('#summary-job').textContent === 'crashed-job'",
                      what="the crashed job's summary")
        assert page.evaluate("[...document.querySelectorAll('#recommendations [data-testid=finding]')]"
                             ".map((e) => e.dataset.findingId)") == ["job_crashed"]
        notes = page.text("[data-testid=summary-life]")
        assert "ValueError" in notes and "2 declared items never started" in notes
        assert page.text("[data-testid=summary-complete]") == "partial"
        assert page.count("[data-testid=body-tag]") == 1 and page.text("[data-testid=body-tag]") == "HTML page"
        assert "answer: HTML page \u201cSign in to continue\u201d" in page.evaluate(
            "document.querySelector('[data-testid=body-tag]').closest('[data-testid=timeline-row]').title")
        assert page.evaluate("[...document.querySelectorAll('[data-testid=timeline-row]')].filter((row) => "
                             "row.title.includes('error: ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED]')).length") == 1
        # The timeline's bars are placed through the CSSOM, which the CSP allows.
        assert page.evaluate("document.querySelector('[data-testid=timeline-row] .tl-bar').style.left") != ""
        assert page.js_errors() == []
        assert page.csp_violations() == []
    finally:
        server.stop()


def test_another_site_cannot_frame_the_page(page: Browser, tmp_path: Path, job_dir: Path) -> None:
    """Clickjacking: a page on another origin frames the dashboard over its whole window and gets a click
    where "Enable debug" is; the browser refuses to show the frame, so the click switches nothing on."""
    server = ServerProcess(job_dir, tmp_path / "server.log")
    decoy = _DecoySite(server.url + "/")
    try:
        page.goto(server.url + "/")
        page.wait_for(visible("[data-testid=enable-button]"), what="the Enable button")
        spot = page.evaluate("(() => { const r = document.querySelector('[data-testid=enable-button]')"
                             ".getBoundingClientRect(); "
                             "return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
        page.goto(decoy.url)
        child = _child_frame(page)
        assert child["url"] == "chrome-error://chromewebdata/"
        assert child.get("unreachableUrl") == server.url + "/"
        page.click_at(spot["x"], spot["y"])
        watch_until = time.monotonic() + 1.5  # a framed page would have sent its POST by now
        while time.monotonic() < watch_until:
            assert httpx.get(f"{server.url}{API}/status", timeout=10).json()["debug_enabled"] is False
            time.sleep(0.1)
        assert any("frame-ancestors 'none'" in str(v) for v in page.csp_violations())
    finally:
        decoy.close()
        server.stop()


def _child_frame(page: Browser, timeout: float = 20.0) -> dict:
    """The decoy page's iframe, once its navigation has ended (the dashboard, or an error page)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = page.driver.execute_cdp_cmd("Page.getFrameTree", {})["frameTree"].get("childFrames", [])
        if children and children[0]["frame"]["url"] not in ("", "about:blank"):
            return children[0]["frame"]
        time.sleep(0.1)
    raise AssertionError("the decoy page's frame never navigated")


class _DecoySite:
    """Another site (another origin): a page that frames ``target``, nearly transparent, over its whole window."""

    def __init__(self, target: str) -> None:
        body = (f'<!doctype html><body style="margin:0"><h1 style="position:absolute">Win a prize: click!</h1>'
                f'<iframe id="victim" src="{target}" style="border:0;width:100vw;height:100vh;opacity:0.01">'
                f'</iframe></body>').encode()

        class Decoy(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Decoy)
        self.url = f"http://127.0.0.1:{self.site.server_port}/"
        self.thread = threading.Thread(target=self.site.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.site.shutdown()
        self.site.server_close()
