"""Who may call the API: the bearer token and a same-origin check.

Contract:

- When the app's ``API_TOKEN`` is set, every request whose path starts with
  ``/api/`` must carry ``Authorization: Bearer <token>``; otherwise it is
  answered 401 with ``WWW-Authenticate: Bearer``. The comparison takes
  constant time. The web page and ``/healthz`` stay open: they hold no data.
- Without a token, a state-changing request (POST, PUT, PATCH, DELETE) that
  a browser sent from another origin is answered 403, so a web page the
  operator happens to visit cannot switch debug on or delete files through a
  dashboard on localhost. (With a token this is moot: browsers never add a
  bearer token on their own, so a forged request fails the token check.) The
  origin may match ``Host`` or, behind a reverse proxy, ``X-Forwarded-Host``.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask) -> None:
    """Install the checks as a ``before_request`` hook."""
    app.before_request(_check_request)


def token_required(app: Flask) -> bool:
    return bool(app.config.get("API_TOKEN"))


def _check_request() -> None:
    token = current_app.config.get("API_TOKEN")
    if request.method in UNSAFE_METHODS and not token:
        _check_same_origin()
    if request.path.startswith(API_PREFIX):
        _check_token(token)


def _check_same_origin() -> None:
    origin = request.headers.get("Origin")
    if not origin:
        return  # not sent by a browser across origins (curl, the CLI, same-origin GETs)
    hosts = {request.host.lower()}
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip().lower()
    if forwarded:
        hosts.add(forwarded)
    if origin == "null" or urlsplit(origin).netloc.lower() not in hosts:
        logger.warning("refused a cross-origin %s %s from %s", request.method, request.path, origin)
        abort(403, f"Cross-origin requests are refused (Origin {origin!r} does not match this dashboard).")


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
