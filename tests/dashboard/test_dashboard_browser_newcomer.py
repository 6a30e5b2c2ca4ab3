"""The page in headless Chromium as a newcomer meets it (issue 16).

Each test starts the dashboard as a real process on a debug folder holding a
job file the real pipeline recorded against the ``mixed`` Jellyfin simulator,
and checks one promise the page makes: both success rates, each named and
equal to the API's figures; the failed ids handed over for a rerun; a phone's
420 px width (no card wider than the screen, a timeline whose bars get at
least half the row, a job list whose every column can be reached, the
server's error body shown whole); a locked page that shows nothing but the
lock; and a debug card that stops counting down when the dashboard stops
answering. All under the page's Content-Security-Policy, with no JS error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from batch_debug.dashboard.schemas import ITEM_ID_EXPECTED
from browser import Browser, browser_or_skip, visible
from dashboard_helpers import API, SIM_KEY, ServerProcess, finish_worker, start_worker

REPO = Path(__file__).resolve().parents[2]
PHONE_SCREENSHOT = REPO / "test-artifacts" / "dashboard-phone.png"
TOKEN = "newcomer-token-7a2e51"
PHONE = 420


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Browser]:
    with browser_or_skip(tmp_path) as browser:
        yield browser


@pytest.fixture
def phone(tmp_path: Path) -> Iterator[Browser]:
    with browser_or_skip(tmp_path) as browser:
        browser.emulate_width(PHONE)
        yield browser


def api_get(server: ServerProcess, path: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(f"{server.url}{API}{path}", headers=headers, timeout=10)
    answer.raise_for_status()
    return answer.json()


def words(page: Browser, selector: str) -> str:
    """The element's text with its whitespace collapsed, as a reader sees it."""
    return " ".join(page.text(selector).split())


def open_summary(page: Browser, job_id: str) -> None:
    row = f"[data-testid=session-row][data-job-id={job_id}]"
    page.wait_for(f"!!document.querySelector('{row}')", what=f"{job_id} in Recent debug sessions")
    page.click(f"{row} [data-testid=view-summary]")
    page.wait_for(f"document.querySelector('#summary-job').textContent === '{job_id}'", what=f"{job_id}'s summary")


def assert_clean(page: Browser) -> None:
    assert page.js_errors() == []
    assert page.csp_violations() == []


def test_both_success_rates_are_named_and_failed_ids_copy(page: Browser, tmp_path: Path, job_dir: Path,
                                                          add_job: Any, mixed_sim: Any) -> None:
    """A real 8-item job on the mixed simulator, whose item and request rates differ (retries, lookups)."""
    add_job("clean-job", mutate=lambda doc: doc["summary"].update(items_failed=0))
    server = ServerProcess(job_dir, tmp_path / "server.log")
    try:
        httpx.post(f"{server.url}{API}/enable", json={}, timeout=10).raise_for_status()
        finish_worker(start_worker(job_dir, mixed_sim.url, SIM_KEY, "rates-job", mixed_sim.demo_item_ids(8)))
        page.goto(server.url + "/")
        listed = {job["job_id"]: job for job in api_get(server, "/jobs")["jobs"]}["rates-job"]
        row = "[data-testid=session-row][data-job-id=rates-job]"
        page.wait_for(f"!!document.querySelector('{row}')", what="the job in the list")
        assert words(page, f"{row} [data-testid=session-item-rate]") == f"{listed['item_success_rate_percent']:.1f}% items"
        assert words(page, f"{row} [data-testid=session-request-rate]") == \
            f"{listed['success_rate_percent']:.1f}% requests"
        assert "items" in words(page, "#sessions-table thead") and "requests" in words(page, "#sessions-table thead")

        open_summary(page, "rates-job")
        s = api_get(server, "/job/rates-job/summary")
        assert s["item_success_rate_percent"] != s["success_rate_percent"]  # else a swap would go unseen
        assert words(page, "[data-testid=rate-items]") == (
            f"items: {s['item_success_rate_percent']:.1f}% — {s['items_succeeded']} of {s['items_total']} items succeeded")
        counted = s["successful_requests"] + s["failed_requests"]
        expected = f"requests: {s['success_rate_percent']:.1f}% — {s['successful_requests']} of {counted} requests succeeded"
        if s.get("other_requests"):
            expected += f" ({s['other_requests']} other not counted)"
        assert words(page, "[data-testid=rate-requests]") == expected
        # The findings quote the server's own words (the broken item's 500: an I/O error), whole.
        said = {f["id"]: f["evidence"].get("server_said", []) for f in s["findings"]}
        assert any(text.startswith("System.IO.IOException: ") for text in said.get("item_server_errors", [])), said
        for finding, texts in said.items():
            assert page.evaluate(f"[...document.querySelectorAll('#recommendations [data-finding-id={finding}] "
                                 "[data-testid=finding-quote] q')].map((n) => n.textContent)") == texts, finding

        # Copy failed ids: the API's list, one a line, onto the clipboard.
        failed = api_get(server, "/job/rates-job/failed-ids")["failed_item_ids"]
        assert len(failed) == s["items_failed"] > 0
        assert page.text("[data-testid=copy-failed-ids]") == f"Copy failed ids ({len(failed)})"
        page.driver.execute_script("window.__copied = [];"
                                   "navigator.clipboard.writeText = async (text) => { window.__copied.push(text); };")
        page.click("[data-testid=copy-failed-ids]")
        page.wait_for("window.__copied.length === 1", what="the ids on the clipboard")
        assert page.evaluate("window.__copied[0]") == "\n".join(failed)
        # Without a clipboard (plain http on another host): the ids are shown selected, to copy by hand.
        page.driver.execute_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
        page.click("[data-testid=copy-failed-ids]")
        page.wait_for(visible("[data-testid=failed-ids-text]"), what="the ids in a text box")
        box = "document.querySelector('[data-testid=failed-ids-text]')"
        assert page.evaluate(f"{box}.value") == "\n".join(failed)
        assert page.evaluate(f"{box}.selectionStart === 0 && {box}.selectionEnd === {box}.value.length")

        # The item-id field says its format, not the browser's bare "Please match the requested format.".
        assert page.text("[data-testid=test-item-id-hint]") == f"Item ID format: {ITEM_ID_EXPECTED}"
        assert ITEM_ID_EXPECTED in page.find("[data-testid=test-item-id]").get_attribute("title")
        page.fill("[data-testid=test-item-id]", "not an id!")
        page.click("[data-testid=test-run]")
        message = page.evaluate("document.querySelector('[data-testid=test-item-id]').validationMessage")
        assert message == f"An item id is {ITEM_ID_EXPECTED}.", message
        assert not page.evaluate(visible("[data-testid=test-result]"))

        # A job without failed items has nothing to copy: no button.
        open_summary(page, "clean-job")
        assert not page.evaluate(visible("[data-testid=copy-failed-ids]"))
        assert not page.evaluate(visible("[data-testid=failed-ids-text]"))
        assert_clean(page)
    finally:
        server.stop()


def _outside(page: Browser, selector: str) -> list[str]:
    """The displayed elements matching ``selector`` that stick out of the viewport sideways."""
    return page.evaluate(f"""[...document.querySelectorAll({selector!r})].filter((n) => n.offsetParent !== null)
        .filter((n) => {{ const r = n.getBoundingClientRect();
                         return r.left < 0 || r.right > document.documentElement.clientWidth + 0.5; }})
        .map((n) => n.id || n.dataset.testid || n.className)""")


def _widest(page: Browser) -> list[str]:
    """The outermost elements reaching past the viewport's right edge (why the page scrolls sideways)."""
    return page.evaluate("""[...document.querySelectorAll('body *')].filter((n) => {
        const edge = document.documentElement.clientWidth;
        return n.getBoundingClientRect().right > edge && n.parentElement.getBoundingClientRect().right <= edge; })
      .map((n) => `${n.tagName}#${n.id}.${n.className}: ${n.outerHTML.slice(0, 160)}`)""")


def test_phone_width_fits_every_card(phone: Browser, tmp_path: Path, job_dir: Path, add_job: Any, mixed_sim: Any) -> None:
    add_job("phone-job")
    server = ServerProcess(job_dir, tmp_path / "server.log", JELLYFIN_URL=mixed_sim.url, JELLYFIN_API_KEY=SIM_KEY)
    try:
        phone.goto(server.url + "/")
        assert phone.evaluate("document.documentElement.clientWidth") <= PHONE
        open_summary(phone, "phone-job")
        broken = mixed_sim.broken_item_ids[0]
        phone.fill("[data-testid=test-item-id]", broken)
        phone.click("[data-testid=test-run]")
        phone.wait_for("document.querySelector('[data-testid=test-result]').dataset.ok === 'false'",
                       timeout=60, what="the Custom ID test result")

        # The server's words, whole: the 500's exception as the simulator (like Jellyfin) sends it.
        said = (f"System.IO.IOException: Input/output error reading "
                f"'/config/metadata/library/{broken[:2]}/{broken}/poster.jpg'")
        bodies = phone.evaluate("[...document.querySelectorAll('[data-testid=test-body]')].map((n) => n.textContent)")
        assert len(bodies) == 3 and all(said in body for body in bodies), bodies
        assert phone.evaluate("[...document.querySelectorAll('[data-testid=test-body]')]"
                              ".every((n) => n.scrollWidth <= n.clientWidth)"), "a body is cut off sideways"

        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE, _widest(phone)
        assert _outside(phone, ".card") == []
        assert _outside(phone, "[data-testid=test-body]") == []
        # The job list: every column of the row reachable on the screen, buttons included.
        row = "[data-testid=session-row][data-job-id=phone-job]"
        for cell in ("session-success", "session-size", "session-actions"):
            assert phone.evaluate(visible(f"{row} [data-testid={cell}]")), cell
        assert _outside(phone, f"{row} td, {row} button") == []
        # The timeline: each bar area at least half its row, tick labels apart.
        shares = phone.evaluate("[...document.querySelectorAll('[data-testid=timeline-row]')].map((r) =>"
                                " r.querySelector('.tl-track').getBoundingClientRect().width"
                                " / r.getBoundingClientRect().width)")
        assert shares and min(shares) >= 0.5, min(shares or [0])
        ticks = phone.evaluate("[...document.querySelectorAll('.tl-tick')].map((t) => {"
                               " const r = t.getBoundingClientRect(); return [r.left, r.left + t.scrollWidth]; })")
        assert len(ticks) >= 2 and all(a[1] <= b[0] for a, b in zip(ticks, ticks[1:])), ticks
        assert ticks[-1][1] <= phone.evaluate("document.querySelector('#timeline').getBoundingClientRect().right")
        phone.evaluate("window.scrollTo(0, 0)")
        phone.screenshot(PHONE_SCREENSHOT, width=PHONE)
        assert_clean(phone)
    finally:
        server.stop()


def test_locked_page_shows_only_the_lock(page: Browser, tmp_path: Path, job_dir: Path, add_job: Any) -> None:
    """With a token required and none given, nothing the page cannot know is shown: no "Off", no "Unknown",
    no empty job list, no buttons that look live; with the token, the real state."""
    add_job("locked-job")
    server = ServerProcess(job_dir, tmp_path / "server.log", APHRODITE_BATCH_DEBUG_TOKEN=TOKEN)
    try:
        httpx.post(f"{server.url}{API}/enable", json={"duration_minutes": 10},
                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).raise_for_status()
        page.goto(server.url + "/")
        page.wait_for(visible("[data-testid=token-card]"), what="the token prompt")
        shown = page.evaluate("[...document.querySelectorAll('main .card, main > *')]"
                              ".filter((n) => n.offsetParent !== null).map((n) => n.id)")
        assert shown == ["token-card"]
        text = page.evaluate("document.body.innerText")
        assert "Locked" in text
        for false_state in ("Off", "Unknown", "UNKNOWN", "No debug files yet", "Enable debug", "Disable", "Run test"):
            assert false_state not in text, false_state

        page.fill("[data-testid=token-input]", TOKEN)
        page.click("[data-testid=token-save]")
        page.wait_for("document.querySelector('[data-testid=debug-badge]').dataset.enabled === 'true'",
                      what="the real debug state")
        page.wait_for("!!document.querySelector('[data-testid=session-row][data-job-id=locked-job]')",
                      what="the job list")
        assert not page.evaluate(visible("[data-testid=token-card]"))
        assert page.evaluate(visible("[data-testid=enable-button]"))
        assert_clean(page)
    finally:
        server.stop()


def test_debug_card_goes_stale_when_the_dashboard_stops_answering(page: Browser, tmp_path: Path,
                                                                  job_dir: Path) -> None:
    server = ServerProcess(job_dir, tmp_path / "server.log")
    try:
        page.goto(server.url + "/")
        page.wait_for("document.querySelector('[data-testid=connection-state]').dataset.state === 'live'",
                      what="the page to go live")
        page.click("[data-testid=enable-button]")
        page.wait_for("document.querySelector('[data-testid=debug-remaining]').textContent.endsWith('left')",
                      what="the countdown")
        server.stop()
        page.wait_for("document.querySelector('#debug-card').dataset.stale === 'true'", what="the stale state")
        detail = page.text("[data-testid=debug-detail]")
        assert re.fullmatch(r"Dashboard not answering since \d\d:\d\d:\d\d: the debug state is unknown "
                            r"until it answers again\.", detail), detail
        assert page.text("[data-testid=debug-remaining]") == "Unknown"
        assert page.evaluate("document.querySelector('[data-testid=debug-badge]').dataset.enabled") == "unknown"
        assert page.evaluate("document.querySelector('[data-testid=connection-state]').dataset.state") == "error"
        # One more poll fails: the card neither counts down nor moves its "since".
        page.wait_for("Number(document.querySelector('#debug-card').dataset.unanswered) >= 2",
                      what="a second unanswered poll")
        assert page.text("[data-testid=debug-remaining]") == "Unknown"
        assert page.text("[data-testid=debug-detail]") == detail
        assert_clean(page)
    finally:
        server.stop()
