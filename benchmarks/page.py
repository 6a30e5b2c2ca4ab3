"""The dashboard page in headless Chromium: seconds until a job's summary is on screen.

Usage::

    figures = page_seconds(dashboard_url, job_id, total_requests)
    # {"page_s": 0.81, "page_runs_s": [...]}, or {"page_s": None, "note": "skipped: why" / "failed: why"}

Each run is a fresh navigation to the page (the same browser, ``about:blank``
in between), then, as soon as the job's row is in the list, a click on its
"View summary" (what an operator does), until the summary card shows this
job with its request total and the timeline is drawn. The figure is the
page's own clock (``performance.now()``: milliseconds since the navigation
started) when the poll sees all of that; the median of the runs is reported.
Selenium drives Debian's ``chromium`` through ``/usr/bin/chromedriver`` as the
browser tests do (``tests/dashboard/browser.py``); without either, or without
selenium, the figure is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
         "--window-size=1280,900")


def missing() -> str | None:
    """Why no browser can run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (apt-get install {package})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extras bring it)"
    return None


def _state_js(job_id: str, total: int) -> str:
    """A JS expression: "row" once the job's row is listed, "done" once its summary is drawn,
    "error: ..." when the page reported an error, else null."""
    row = f"[data-testid=session-row][data-job-id={json.dumps(job_id)}]"
    return f"""(() => {{
      const text = (id) => (document.getElementById(id) || {{}}).textContent || "";
      const toast = document.querySelector("[data-testid=toast]");
      if (toast && !toast.classList.contains("hidden") && toast.textContent) return "error: " + toast.textContent;
      const card = document.querySelector("[data-testid=summary-card]");
      if (card && !card.classList.contains("hidden") && text("summary-job") === {json.dumps(job_id)}
          && text("tile-total") === {json.dumps(str(total))}
          && document.querySelector("#timeline [data-testid=timeline-row], #timeline .tl-note"))
        return "done";
      return document.querySelector({json.dumps(row)}) ? "row" : null;
    }})()"""


def one_run(driver: Any, url: str, job_id: str, total: int, timeout: float) -> float:
    """Seconds from navigation to the summary drawn (the page's clock); raises TimeoutError."""
    driver.get("about:blank")
    driver.get(url)  # returns after the load event; the page's clock started with the navigation
    probe = _state_js(job_id, total)
    clicked = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, now_ms = driver.execute_script(f"return [{probe}, performance.now()];")
        if state == "done":
            return float(now_ms) / 1000
        if state and state.startswith("error"):
            raise RuntimeError(f"the page reported {state[7:]!r}")
        if state == "row" and not clicked:
            row = f"[data-testid=session-row][data-job-id={json.dumps(job_id)}] [data-testid=view-summary]"
            driver.execute_script(f"document.querySelector({json.dumps(row)}).click();")
            clicked = True
        time.sleep(0.02)
    raise TimeoutError(f"the summary was not drawn within {timeout:.0f} s"
                       + ("" if clicked else " (the job never appeared in the list)"))


def page_seconds(url: str, job_id: str, total: int, runs: int = 3, timeout: float = 60.0) -> dict[str, Any]:
    """``{"page_s": median, "page_runs_s": [...]}``; ``page_s`` None and a ``note`` when there is no
    browser (``"skipped: why"``) or a run failed (``"failed: why"``: a timeout, an error on the page)."""
    reason = missing()
    if reason is not None:
        return {"page_s": None, "note": f"skipped: {reason}"}
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="bench-chromedriver-") as folder:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER,
                                                  log_output=os.path.join(folder, "chromedriver.log")),
                                  options=options)
        try:
            driver.set_page_load_timeout(timeout)
            times = []
            for _ in range(runs):
                try:
                    times.append(round(one_run(driver, url + "/", job_id, total, timeout), 3))
                except (TimeoutError, RuntimeError) as exc:
                    return {"page_s": None, "page_runs_s": times, "note": f"failed: {exc}"}
        finally:
            driver.quit()
    return {"page_s": round(statistics.median(times), 3), "page_runs_s": times}
