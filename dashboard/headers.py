"""Security headers on every answer (an ``after_request`` hook).

Contract:

- Every answer: ``X-Frame-Options: DENY`` and a CSP with
  ``frame-ancestors 'none'`` (no other site may frame the page and trick a
  click on "Enable"), ``X-Content-Type-Options: nosniff`` (a JSON error that
  quotes a server's HTML is never run as a page), ``Referrer-Policy:
  no-referrer``.
- The page (``text/html``) gets :data:`PAGE_CSP`: scripts, styles and images
  only from this server, no inline script or style, no plugins, no ``<base>``,
  forms only to this server. The page sets positions and widths through the
  CSSOM (``node.style.left = ...``), which CSP allows, never through ``style``
  attributes. Any other answer gets :data:`DATA_CSP`, which allows nothing.
- Every answer but the static assets is ``Cache-Control: no-store``: job
  data, the debug state and tokens' answers must not sit in caches.

Headers a view set itself are kept.
"""

from __future__ import annotations

from flask import Flask, Response, request

PAGE_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
STATIC_PREFIX = "/static/"

ALWAYS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def init_app(app: Flask) -> None:
    """Install the hook on ``app``."""
    app.after_request(secure)


def secure(response: Response) -> Response:
    """Add the security headers to ``response`` (see the module contract)."""
    headers = response.headers
    for name, value in ALWAYS.items():
        headers.setdefault(name, value)
    headers.setdefault("Content-Security-Policy", PAGE_CSP if response.mimetype == "text/html" else DATA_CSP)
    if not request.path.startswith(STATIC_PREFIX):
        headers["Cache-Control"] = "no-store"
    return response
