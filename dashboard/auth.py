"""Who may call the dashboard: the bearer token, the Host allow-list and a same-origin check.

Contract (one ``before_request`` hook, run before routing's views):

- A request that carries the valid token (``Authorization: Bearer <token>``,
  compared in constant time) passes the Host and Origin checks: a browser
  never adds a bearer token on its own, so such a request is not forged.
  That keeps remote workers (``/v1/traces``, ``/status`` polled with the
  token) working whatever name they use for the sidecar.
- Any other request must name the dashboard in ``Host``: ``localhost``, a
  loopback address (127.0.0.0/8, ::1), any port, or a name in the app's
  ``ALLOWED_HOSTS`` (``APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS``). Otherwise it
  is answered 403, the page and ``/healthz`` included: a page on another
  site that rebinds its own name to 127.0.0.1 sends its own name there.
  An ``X-Forwarded-Host``, when present, must be allowed too (a proxy that
  rewrites ``Host`` to 127.0.0.1 passes the browser's name on in it); it
  never stands in for a ``Host`` that is not allowed.
- Without the token, a state-changing request (POST, PUT, PATCH, DELETE)
  that carries ``Origin`` must come from the dashboard's own page: the
  origin's host must be allowed and equal, with its port, the ``Host`` the
  request was sent to or an ``X-Forwarded-Host`` that is itself allowed
  (a reverse proxy in front). ``Origin: null`` and anything else is a 403.
  A request without ``Origin`` (curl, the CLI) is not a browser's cross-site
  request.
- When the app's ``API_TOKEN`` is set, every request whose path starts with
  ``/api/`` must carry it; otherwise it is answered 401 with
  ``WWW-Authenticate: Bearer``. The page and ``/healthz`` hold no data and
  need no token.
"""

from __future__ import annotations

import hmac
import logging

from flask import Flask, abort, current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from .hosts import AllowedHosts

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HOSTS_EXTENSION = "batch_debug_allowed_hosts"


def init_app(app: Flask) -> None:
    """Install the checks as a ``before_request`` hook, with the app's ``ALLOWED_HOSTS``."""
    app.extensions[HOSTS_EXTENSION] = AllowedHosts(app.config.get("ALLOWED_HOSTS") or ())
    app.before_request(_check_request)


def token_required(app: Flask) -> bool:
    return bool(app.config.get("API_TOKEN"))


def has_valid_token() -> bool:
    """Whether this request carries the app's token (False when the app has none)."""
    expected = current_app.config.get("API_TOKEN")
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), str(expected).encode("utf-8"))


def _check_request() -> None:
    if not has_valid_token():
        allowed: AllowedHosts = current_app.extensions[HOSTS_EXTENSION]
        _check_host(allowed)
        if request.method in UNSAFE_METHODS:
            _check_same_origin(allowed)
    if request.path.startswith(API_PREFIX):
        _check_token(current_app.config.get("API_TOKEN"))


def _forwarded_host() -> str:
    return request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()


def _check_host(allowed: AllowedHosts) -> None:
    named = [("Host", request.headers.get("Host", ""))]
    if _forwarded_host():
        # Behind a proxy that rewrites Host to 127.0.0.1, the name the browser used is in X-Forwarded-Host.
        named.append(("X-Forwarded-Host", _forwarded_host()))
    for header, value in named:
        if not allowed.allows_host(value):
            logger.warning("refused %s %s for %s %r (not loopback or APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS)",
                           request.method, request.path, header, value[:100])
            abort(403, f"This dashboard does not answer to {header} {value[:100]!r}: use a loopback address, "
                       f"add the name to APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS, or send the API token.")


def _check_same_origin(allowed: AllowedHosts) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not sent by a browser across origins (curl, the CLI)
    sent_to = [request.headers.get("Host", ""), _forwarded_host()]  # both allowed: _check_host ran first
    if not allowed.allows_origin(origin, sent_to):
        logger.warning("refused a cross-origin %s %s from %r", request.method, request.path, origin[:100])
        abort(403, f"Cross-origin requests are refused (Origin {origin[:100]!r} is not this dashboard's page).")


def _check_token(expected: str | None) -> None:
    if not expected:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        _unauthorized("This API needs 'Authorization: Bearer <token>' (the APHRODITE_BATCH_DEBUG_TOKEN value).")
    if not hmac.compare_digest(given.strip().encode("utf-8"), str(expected).encode("utf-8")):
        _unauthorized("The bearer token is wrong.")


def _unauthorized(message: str) -> None:
    raise Unauthorized(message, www_authenticate=WWWAuthenticate("bearer", {"realm": "batch-debug"}))
