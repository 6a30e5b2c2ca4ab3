"""The dashboard's Flask application factory.

Usage::

    from batch_debug.dashboard.app import create_app
    app = create_app()                               # settings from the environment
    app = create_app({"DEBUG_DIR": tmp, "API_TOKEN": "s3cret", "TESTING": True})

Settings are read in the flaskr order: defaults, then ``BATCH_DEBUG_*``
environment variables (``app.config.from_prefixed_env("BATCH_DEBUG")``), then
``test_config``. Keys:

- ``DEBUG_DIR`` (job files and the debug state); ``API_TOKEN`` (bearer token
  required by every ``/api/`` route when set); ``ALLOWED_HOSTS`` (host names
  answered besides loopback, for requests without the token; a list, or a
  comma-separated string; default ``APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS``);
- ``JELLYFIN_URL`` and ``JELLYFIN_API_KEY`` (the server ``/test-item`` talks
  to); ``TEST_ITEM_MAX_BODY_BYTES`` (32 MiB), ``TEST_ITEM_DEADLINE_SECONDS``
  (60) and ``TEST_ITEM_CONCURRENCY`` (2): the bounds of one Custom ID Test
  and how many run at once;
- ``MAX_CONTENT_LENGTH`` (1 MiB, any body), ``MAX_JSON_BYTES`` (64 KiB) and
  ``MAX_JSON_DEPTH`` (16): the limits of API request bodies (``jsonbody``);
- ``SERVER_*``: read by ``server.create_server`` when it serves the app
  (threads, connections, timeouts; defaults in ``server.SERVER_DEFAULTS``),
  e.g. ``BATCH_DEBUG_SERVER_THREADS=4`` in the environment.

Every answer carries the security headers of ``headers.py``.

Every error leaves the app as JSON with its real status:
``{"error": {"status": 404, "message": "..."}}``; an unexpected exception is
logged and answered 500 without internals.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, InternalServerError

from ..collector import config
from ..collector.switch import DebugSwitch
from . import api, auth, headers, jsonbody, otlp, testitem, web

logger = logging.getLogger(__name__)


def _defaults() -> dict[str, Any]:
    return {
        "DEBUG_DIR": str(config.debug_dir()),
        "API_TOKEN": os.environ.get(config.APHRODITE_BATCH_DEBUG_TOKEN, "") or None,
        "JELLYFIN_URL": os.environ.get(config.JELLYFIN_URL, "") or None,
        "JELLYFIN_API_KEY": os.environ.get(config.JELLYFIN_API_KEY, "") or None,
        "ALLOWED_HOSTS": sorted(config.allowed_hosts()),
        "MAX_CONTENT_LENGTH": 1 << 20,  # bodies are tiny JSON objects; anything larger is a 413
        "MAX_JSON_BYTES": jsonbody.DEFAULT_MAX_JSON_BYTES,
        "MAX_JSON_DEPTH": jsonbody.DEFAULT_MAX_JSON_DEPTH,
        "TEST_ITEM_MAX_BODY_BYTES": testitem.DEFAULT_MAX_BODY_BYTES,
        "TEST_ITEM_DEADLINE_SECONDS": testitem.DEFAULT_DEADLINE_SECONDS,
        "TEST_ITEM_CONCURRENCY": testitem.DEFAULT_CONCURRENCY,
    }


class _DocumentedOrderJSON(DefaultJSONProvider):
    """Flask's JSON, with keys left in the order the answers document them (not sorted)."""

    sort_keys = False


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the dashboard app: API blueprint, web page, auth and JSON errors."""
    app = Flask(__name__)
    # '/job//etc/passwd' must reach the job id check (400), not be redirected to a merged path.
    app.url_map.merge_slashes = False
    app.config.from_mapping(_defaults())
    app.config.from_prefixed_env("BATCH_DEBUG")
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json = _DocumentedOrderJSON(app)
    app.config["DEBUG_DIR"] = str(Path(app.config["DEBUG_DIR"]).resolve())
    if isinstance(app.config["ALLOWED_HOSTS"], str):  # BATCH_DEBUG_ALLOWED_HOSTS=a,b from the environment
        app.config["ALLOWED_HOSTS"] = config.allowed_hosts({config.APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS:
                                                            app.config["ALLOWED_HOSTS"]})
    app.extensions[api.SWITCH_EXTENSION] = DebugSwitch(app.config["DEBUG_DIR"])
    app.extensions[api.TEST_SLOTS_EXTENSION] = testitem.Slots(int(app.config["TEST_ITEM_CONCURRENCY"]))

    auth.init_app(app)
    headers.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(otlp.bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


def _http_error(exc: HTTPException) -> Any:
    """Any HTTP error as JSON, keeping headers such as Allow and WWW-Authenticate."""
    status = exc.code or 500
    response = jsonify(error_body(status, exc.description or exc.name))
    response.status_code = status
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(exc: Exception) -> Any:
    if isinstance(exc, HTTPException):  # pragma: no cover - routed to _http_error first
        return _http_error(exc)
    logger.exception("unexpected error in the batch-debug dashboard")
    return _http_error(InternalServerError("Internal error in the batch-debug dashboard; see its log."))
