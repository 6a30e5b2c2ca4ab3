"""Security headers on every answer, and a page that needs no inline script or style (Flask test client).

The browser test (``test_dashboard_browser.py``) runs the page under these
headers in Chromium and fails on any CSP violation; this file checks the
headers themselves and the template and scripts the CSP depends on.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from batch_debug.dashboard.headers import PAGE_CSP
from dashboard_helpers import API, RECORDED_JOB

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "static"

ANSWERS = [
    ("GET", "/", {}, 200),
    ("GET", "/healthz", {}, 200),
    ("GET", f"{API}/status", {}, 200),
    ("POST", f"{API}/enable", {"json": {"duration_minutes": 1}}, 200),
    ("GET", f"{API}/job/{RECORDED_JOB}/full-log", {}, 200),
    ("GET", f"{API}/job/nothing/summary", {}, 404),
    ("GET", "/no/such/page", {}, 404),
    ("POST", f"{API}/enable", {"headers": {"Origin": "http://evil.example"}}, 403),
    ("GET", "/", {"headers": {"Host": "evil.example"}}, 403),
    ("GET", "/static/app.js", {}, 200),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), ANSWERS,
                         ids=[f"{m} {u} {s}" for m, u, _, s in ANSWERS])
def test_every_answer_forbids_framing_and_sniffing(client, add_job, method, url, kwargs, status) -> None:
    add_job()
    answer = client.open(url, method=method, **kwargs)
    answer.close()
    assert answer.status_code == status
    headers = answer.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
    if answer.mimetype == "text/html":
        assert csp == PAGE_CSP
    else:
        assert csp.startswith("default-src 'none'")
    if url.startswith("/static/"):
        assert "no-store" not in headers.get("Cache-Control", "")
    else:
        assert headers["Cache-Control"] == "no-store"


class _InlineFinder(HTMLParser):
    """Inline scripts, style elements, style attributes and event-handler attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style" or (tag == "script" and "src" not in names):
            self.found.append(f"<{tag}> without src")
        self.found += [f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")]
        if tag == "link" and any(value and value.startswith("data:") for _, value in attrs):
            self.found.append(f"{tag} with a data: URL")


def test_the_page_has_no_inline_script_or_style(client) -> None:
    finder = _InlineFinder()
    finder.feed(client.get("/").get_data(as_text=True))
    assert finder.found == []


@pytest.mark.parametrize("script", sorted(p.name for p in STATIC.glob("*.js")))
def test_scripts_set_styles_through_the_cssom_only(script) -> None:
    source = (STATIC / script).read_text()
    assert not re.search(r"""setAttribute\(\s*["']style""", source)
    assert not re.search(r"""\bstyle\s*:\s*[`"']""", source), "el(..., {style: '...'}) becomes a style attribute"
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source)
