"""Headless Chromium for the browser tests: Selenium driving Debian's ``chromium`` through Debian's ``chromedriver``.

Usage::

    with Browser.launch(tmp_path / "chromedriver.log", downloads=tmp_path / "downloads") as page:
        page.goto("http://127.0.0.1:8000/")
        page.click("[data-testid=enable-button]")
        page.wait_for("document.querySelector('[data-testid=debug-badge]').dataset.enabled === 'true'")
        assert page.js_errors() == [] and page.csp_violations() == []

Both binaries are named explicitly (``$CHROMIUM`` / ``$CHROMEDRIVER``, else
Debian's paths), so Selenium Manager never runs and nothing is downloaded.
Clicks and typing are WebDriver's own: a hidden or covered element fails the
way it would for a person. Uncaught errors and Content-Security-Policy
violations are read from the browser's log, which sees every document the tab
loads, from its first byte.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import JavascriptException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
         "--hide-scrollbars", "--mute-audio", "--password-store=basic")


def missing() -> str | None:
    """Why no browser can run here (which binary is absent and the Debian package that brings it), or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (apt-get install {package}); the browser tests need it"
    return None


@contextmanager
def browser_or_skip(folder: Path, *, width: int = 1280, height: int = 900) -> Iterator[Browser]:
    """A fresh browser saving downloads into ``folder / "downloads"``; without Chromium the test is
    skipped, or failed when ``CI`` is set (there the browser tests must run)."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the browser tests must run")
        pytest.skip(reason)
    downloads = folder / "downloads"
    downloads.mkdir(exist_ok=True)
    with Browser.launch(folder / "chromedriver.log", downloads=downloads, width=width, height=height) as browser:
        yield browser


def visible(selector: str) -> str:
    """A JS expression: the element exists and is displayed."""
    return f"(() => {{ const n = document.querySelector('{selector}'); return !!n && n.offsetParent !== null; }})()"


class Browser:
    """One headless Chromium window, and the few conveniences the tests use on top of its WebDriver."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self._log: list[dict[str, Any]] = []

    @classmethod
    @contextmanager
    def launch(cls, driver_log: Path, *, downloads: Path | None = None,
               width: int = 1280, height: int = 900) -> Iterator[Browser]:
        """A fresh browser (its own temporary profile), quit on exit; chromedriver's log goes to ``driver_log``."""
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if downloads is not None:
            options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                      "download.prompt_for_download": False})
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER, log_output=str(driver_log)),
                                  options=options)
        try:
            yield cls(driver)
        finally:
            driver.quit()

    def goto(self, url: str) -> None:
        """Open ``url`` and wait for its load event."""
        self.driver.get(url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JS expression (a promise is awaited); a JS error raises ``JavascriptException``."""
        return self.driver.execute_script(f"return ({expression});")

    def wait_for(self, expression: str, timeout: float = 20.0, what: str | None = None) -> Any:
        """Poll until the expression is truthy (a JS error counts as not yet); its value, or ``TimeoutException``."""
        wait = WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(JavascriptException,))
        return wait.until(lambda driver: self.evaluate(expression), f"timed out waiting for {what or expression}")

    def find(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def text(self, selector: str) -> str:
        return str(self.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''"))

    def count(self, selector: str) -> int:
        return len(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def click(self, selector: str, timeout: float = 10.0) -> None:
        """WebDriver's click, once the element stands still.

        A smooth scroll or a re-render may be moving it; WebDriver aims at
        where the element is when it looks, so the click waits until two
        looks agree, then lands where a person would aim.
        """
        element = self.find(selector)
        last: list[object] = [None]

        def still(driver: webdriver.Chrome) -> bool:
            now = driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                        "return [r.x, r.y, window.scrollX, window.scrollY];", element)
            settled, last[0] = now == last[0], now
            return settled

        WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(still, f"{selector} never stood still")
        element.click()

    def click_at(self, x: float, y: float) -> None:
        """A left click at a point of the window, whatever is there (a frame, nothing at all)."""
        actions = ActionBuilder(self.driver)
        actions.pointer_action.move_to_location(int(x), int(y)).click()
        actions.perform()

    def fill(self, selector: str, text: str) -> None:
        """Clear the field and type ``text`` into it."""
        field = self.find(selector)
        field.clear()
        field.send_keys(text)

    def screenshot(self, path: Path, width: int = 1280) -> None:
        """A full-page PNG at ``width`` CSS pixels."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        try:
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot",
                                               {"format": "png", "captureBeyondViewport": True})
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def emulate_width(self, width: int, height: int = 860) -> None:
        """A viewport ``width`` CSS pixels wide, as on a phone (a window cannot be made narrower than 500 px)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def log(self) -> list[dict[str, Any]]:
        """Every browser log entry so far (chromedriver hands each out once; they are kept here)."""
        self._log += self.driver.get_log("browser")
        return self._log

    def js_errors(self) -> list[str]:
        """Uncaught exceptions and unhandled promise rejections, in any document the tab loaded."""
        return [entry["message"] for entry in self.log() if entry.get("source") == "javascript"]

    def csp_violations(self) -> list[str]:
        """Content-Security-Policy violations (blocked or reported), in any document the tab loaded."""
        return [entry["message"] for entry in self.log() if entry.get("source") == "security"]
