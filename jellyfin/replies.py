"""The answers the Jellyfin simulator sends: Jellyfin's own, and the proxy's in front of it.

Contract (used by ``simulator.py``, ``profiles.py`` and ``http_server.py``):

- ``Reply``: one answer and how it is delivered (see its docstring).
- Jellyfin (ASP.NET Core) bodies: ``json_reply``, ``problem_reply``
  (ProblemDetails), ``text_reply``, ``bad_value_reply`` (400) and
  ``not_found_reply`` (404).
- ``proxy_502_reply()``: what nginx 1.25.3 answers when its upstream is down
  and the site has a styled ``error_page`` (as reverse-proxy managers and
  hosting panels install): ``502``, ``Server: nginx/1.25.3``,
  ``Content-Type: text/html``, about 3 KB of HTML whose ``<head>`` opens with
  more than 2 KB of CSS, so the title and message start after the first
  2 KB (``NGINX_MESSAGE_OFFSET``): a client that keeps only the first 2 KB of
  an error body sees nothing but CSS.
- ``sign_in_page_reply()``: a captive portal's (or an expired proxy session's)
  sign-in page, given for whatever was asked: ``200``, ``Server: portal/2.4``,
  ``Content-Type: text/html``, ``Cache-Control: no-store``.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field

from .shapes import PROXY_502, SIGN_IN_PAGE

logger = logging.getLogger(__name__)

NGINX = "nginx/1.25.3"
NGINX_MESSAGE = "The upstream server is temporarily unavailable. Please try again in a moment."


@dataclass
class Reply:
    """One HTTP answer and how it goes out (``http_server.py`` delivers it).

    ``delay_s`` is waited before anything is sent (slow responses). ``status``
    None means no status line at all: the connection is closed after
    ``stall_s``. ``cut`` ("stall" or "drop") sends the headers and half the
    body, then waits ``stall_s`` ("stall") and closes the connection.
    ``rate`` paces the body in bytes per second; ``close`` adds
    ``Connection: close``; ``kill_server`` makes the server stop listening
    before this answer goes out. ``fault``, ``seq`` and ``item_id`` are the
    ground truth ``stats()``/``truth()`` record.
    """

    status: int | None
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    server: str = "Kestrel"
    cut: str | None = None
    stall_s: float = 0.0
    rate: int | None = None
    close: bool = False
    kill_server: bool = False
    fault: str | None = None
    seq: int | None = None
    item_id: str | None = None


def json_reply(status: int, obj: object, content_type: str = "application/json; charset=utf-8") -> Reply:
    return Reply(status, json.dumps(obj, separators=(",", ":")).encode(), content_type)


def problem_reply(status: int, title: str, rfc: str, **extra: object) -> Reply:
    """ASP.NET Core's ProblemDetails shape, which Jellyfin's controllers return for errors."""
    body = {"type": f"https://tools.ietf.org/html/{rfc}", "title": title, "status": status, **extra,
            "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"}
    return json_reply(status, body, "application/problem+json; charset=utf-8")


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), "text/plain; charset=utf-8")


def bad_value_reply(name: str, raw: str) -> Reply:
    return problem_reply(400, "One or more validation errors occurred.", "rfc9110#section-15.5.1",
                         errors={name: [f"The value '{raw}' is not valid."]})


def not_found_reply() -> Reply:
    return problem_reply(404, "Not Found", "rfc9110#section-15.5.5")


_CSS = """
:root { --bg: #0f1115; --panel: #171a21; --text: #e6e8ee; --muted: #9aa3b2; --accent: #e5534b; --line: #262b36; }
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
html, body { margin: 0; padding: 0; height: 100%; }
body { display: flex; flex-direction: column; align-items: center; justify-content: center; min-height: 100vh;
       background: var(--bg); color: var(--text); line-height: 1.55;
       font: 16px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main.error-page { width: min(92vw, 560px); padding: 2.5rem 2rem 2rem; background: var(--panel);
                  border: 1px solid var(--line); border-radius: 12px; box-shadow: 0 12px 40px rgba(0, 0, 0, .45); }
main.error-page .code { display: inline-block; margin-bottom: .75rem; padding: .2rem .6rem; border-radius: 999px;
                        font-size: .8rem; font-weight: 600; letter-spacing: .08em; text-transform: uppercase;
                        color: var(--accent); background: rgba(229, 83, 75, .12); }
h1 { margin: 0 0 .75rem; font-size: 1.75rem; font-weight: 700; letter-spacing: -.01em; }
p { margin: 0 0 1rem; color: var(--muted); }
a, a:visited { color: #6cb6ff; text-decoration: none; border-bottom: 1px dotted rgba(108, 182, 255, .5); }
a:hover, a:focus { color: #96d0ff; border-bottom-style: solid; outline: none; }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
.button { appearance: none; padding: .55rem 1.1rem; border: 1px solid var(--line); border-radius: 8px;
          font: inherit; font-size: .9rem; color: var(--text); background: #222733; cursor: pointer; }
.button:hover { background: #2b3140; }
.details { margin-top: 1.25rem; padding-top: 1rem; border-top: 1px solid var(--line);
           font-size: .8rem; color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
hr { width: min(92vw, 560px); margin: 2rem 0 .5rem; border: 0; border-top: 1px solid var(--line); }
center { color: var(--muted); font-size: .8rem; }
@media (prefers-color-scheme: light) {
  :root { --bg: #f6f7f9; --panel: #ffffff; --text: #1f2328; --muted: #59636e; --line: #d1d9e0; }
  main.error-page { box-shadow: 0 8px 24px rgba(140, 149, 159, .2); }
  .button { background: #f6f8fa; }
  .button:hover { background: #eef1f4; }
}
@media (max-width: 480px) { main.error-page { padding: 1.75rem 1.25rem; } h1 { font-size: 1.4rem; } }
"""

_SCRIPT = """
(function () {
  var button = document.getElementById("retry");
  if (button) { button.addEventListener("click", function () { window.location.reload(); }); }
  var when = document.getElementById("when");
  if (when) { when.textContent = new Date().toISOString(); }
})();
"""

_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<style>{_CSS}</style>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>502 Bad Gateway</title>
</head>
<body>
<main class="error-page">
<span class="code">Error 502</span>
<h1>502 Bad Gateway</h1>
<p>{NGINX_MESSAGE}</p>
<div class="actions"><button class="button" id="retry" type="button">Try again</button></div>
<div class="details">Request time: <span id="when"></span></div>
</main>
<hr><center>{NGINX}</center>
<script>{_SCRIPT}</script>
</body>
</html>
""".encode()

NGINX_MESSAGE_OFFSET = _PAGE.index(NGINX_MESSAGE.encode())


def proxy_502_reply() -> Reply:
    """nginx's answer during an upstream outage (the request never reached Jellyfin)."""
    return Reply(502, _PAGE, "text/html", server=NGINX, fault=PROXY_502)


PORTAL = "portal/2.4"
SIGN_IN_MESSAGE = "Your session has ended. Sign in to continue to the media server."
_SIGN_IN = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title>
<style>body{{font-family:sans-serif;margin:4em auto;max-width:28em}}label{{display:block;margin:.5em 0}}</style>
</head>
<body>
<h1>Sign in</h1>
<p>{SIGN_IN_MESSAGE}</p>
<form method="post" action="/portal/login"><label>User <input name="user"></label>
<label>Password <input name="password" type="password"></label><button>Sign in</button></form>
</body>
</html>
""".encode()


def sign_in_page_reply() -> Reply:
    """A sign-in page answered in Jellyfin's place, with 200 OK (the request never reached Jellyfin)."""
    return Reply(200, _SIGN_IN, "text/html", server=PORTAL, headers={"Cache-Control": "no-store"},
                 fault=SIGN_IN_PAGE)
