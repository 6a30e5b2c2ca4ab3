"""The dashboard's Flask application factory.

Usage::

    from batch_debug.dashboard.app import create_app
    app = create_app()                               # settings from the environment
    app = create_app({"DEBUG_DIR": tmp, "API_TOKEN": "s3cret", "TESTING": True})

Settings are read in the flaskr order: defaults, then the environment, then
``test_config``. The environment has one channel, ``APHRODITE_BATCH_DEBUG_*``:
a setting with a variable of its own in ``collector.config`` is read from it
(``APHRODITE_BATCH_DEBUG_DIR`` for ``DEBUG_DIR``, ``..._TOKEN`` for
``API_TOKEN``, ``..._ALLOWED_HOSTS``; ``JELLYFIN_URL`` and
``JELLYFIN_API_KEY`` as the CLI reads them), and each limit (:data:`LIMITS`)
is ``APHRODITE_BATCH_DEBUG_<KEY>``, e.g.
``APHRODITE_BATCH_DEBUG_SERVER_THREADS=4``; a bad value is logged and the
default used. Keys:

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
  (threads, connections, timeouts; defaults in :data:`SERVER_DEFAULTS`).

Every answer carries the security headers of ``headers.py``.

Every error leaves the app as JSON with its real status:
``{"error": {"status": 404, "message": "..."}}``; an unexpected exception is
logged and answered 500 without internals.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, InternalServerError

from ..collector import config
from ..collector.switch import DebugSwitch
from . import api, api_analysis, api_downloads, auth, headers, jsonbody, otlp, testitem, web

logger = logging.getLogger(__name__)

#: The prefix of every setting in the environment (``collector.config`` names the ones with a meaning of their own).
ENV_PREFIX = "APHRODITE_BATCH_DEBUG_"

#: The waitress server's settings (``server.create_server``), with their defaults.
SERVER_DEFAULTS: dict[str, int] = {
    "SERVER_THREADS": 8,  # requests served at once; more wait in a queue, they do not start threads
    # Open connections; past it new ones wait in the listen backlog. A connection costs a descriptor and a few
    # KB, not a thread: measured, 800 half-sent requests took 2.5 MB and a new client was answered at once,
    # where a limit of 100 made it wait ~1 minute for the timeouts to free places.
    "SERVER_CONNECTION_LIMIT": 1000,
    "SERVER_CHANNEL_TIMEOUT": 30,  # seconds a connection may sit without a complete request or any traffic
    "SERVER_CLEANUP_INTERVAL": 5,  # seconds between sweeps for such connections
    "SERVER_MAX_HEADER_BYTES": 64 << 10,  # request line and headers
    "SERVER_BACKLOG": 128,
}

#: Limits, each settable as ``APHRODITE_BATCH_DEBUG_<KEY>`` (a positive number), with their defaults.
LIMITS: dict[str, int | float] = {
    "MAX_CONTENT_LENGTH": 1 << 20,  # bodies are tiny JSON objects; anything larger is a 413
    "MAX_JSON_BYTES": jsonbody.DEFAULT_MAX_JSON_BYTES,
    "MAX_JSON_DEPTH": jsonbody.DEFAULT_MAX_JSON_DEPTH,
    "TEST_ITEM_MAX_BODY_BYTES": testitem.DEFAULT_MAX_BODY_BYTES,
    "TEST_ITEM_DEADLINE_SECONDS": testitem.DEFAULT_DEADLINE_SECONDS,
    "TEST_ITEM_CONCURRENCY": testitem.DEFAULT_CONCURRENCY,
    **SERVER_DEFAULTS,
}


def _env_limit(key: str, default: int | float) -> int | float:
    """``APHRODITE_BATCH_DEBUG_<key>``, a positive number of the default's type; a bad value is logged, default used."""
    name = ENV_PREFIX + key
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = type(default)(raw)
    except ValueError:
        value = 0
    if not 0 < value < math.inf:
        logger.warning("%s=%r is not a positive %s; using %s", name, raw,
                       "whole number" if isinstance(default, int) else "number", default)
        return default
    return value


def _defaults() -> dict[str, Any]:
    """The settings as the defaults and the environment give them."""
    return {
        "DEBUG_DIR": str(config.debug_dir()),
        "API_TOKEN": os.environ.get(config.APHRODITE_BATCH_DEBUG_TOKEN, "") or None,
        "JELLYFIN_URL": os.environ.get(config.JELLYFIN_URL, "") or None,
        "JELLYFIN_API_KEY": os.environ.get(config.JELLYFIN_API_KEY, "") or None,
        "ALLOWED_HOSTS": sorted(config.allowed_hosts()),
        **{key: _env_limit(key, default) for key, default in LIMITS.items()},
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
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json = _DocumentedOrderJSON(app)
    app.config["DEBUG_DIR"] = str(Path(app.config["DEBUG_DIR"]).resolve())
    if isinstance(app.config["ALLOWED_HOSTS"], str):  # "a,b" in the test mapping, as in the variable
        app.config["ALLOWED_HOSTS"] = config.allowed_hosts({config.APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS:
                                                            app.config["ALLOWED_HOSTS"]})
    app.extensions[api.SWITCH_EXTENSION] = DebugSwitch(app.config["DEBUG_DIR"])
    app.extensions[api.TEST_SLOTS_EXTENSION] = testitem.Slots(int(app.config["TEST_ITEM_CONCURRENCY"]))

    auth.init_app(app)
    headers.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_analysis.bp)
    app.register_blueprint(api_downloads.bp)
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
