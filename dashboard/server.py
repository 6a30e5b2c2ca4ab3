"""Run the dashboard: safe by default.

Usage::

    from batch_debug.dashboard.server import ServeError, serve
    try:
        serve("127.0.0.1", 8000)          # blocks until Ctrl-C
    except ServeError as exc:
        print(exc)

    python -m batch_debug.dashboard.server --host 127.0.0.1 --port 0 --dir ./debug_logs/batch_jobs

:func:`serve` binds a loopback address unless told otherwise, and refuses
(``ServeError``) to bind any other address while the app has no API token
(``APHRODITE_BATCH_DEBUG_TOKEN``): an open debug switch and job files must
not be reachable from the network by accident. A port that cannot be bound
is a ``ServeError`` too. Once listening it prints one line,
``batch-debug dashboard listening on http://HOST:PORT/``, with the real port
(port 0 picks a free one).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..collector import config
from .app import create_app

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class ServeError(Exception):
    """The dashboard cannot be served as asked; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


class _QuietHandler(WSGIRequestHandler):
    """Request lines at DEBUG (the page polls every 2 s); failures at INFO."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        status = int(code) if str(code).isdigit() else 0
        level = logging.INFO if status >= 400 else logging.DEBUG
        logger.log(level, "%s %s -> %s", self.command, self.path.split("?", 1)[0], code)

    def log_error(self, format: str, *args: Any) -> None:
        logger.info("request error: " + format, *args)


def url_of(server: BaseWSGIServer) -> str:
    host = server.host if ":" not in server.host else f"[{server.host}]"
    return f"http://{host}:{server.server_port}/"


def create_server(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, app: Flask | None = None) -> BaseWSGIServer:
    """A bound, threaded WSGI server for the app (not yet serving)."""
    app = app if app is not None else create_app()
    if not is_loopback(host) and not app.config.get("API_TOKEN"):
        raise ServeError(
            f"Refusing to serve on {host}: it is not a loopback address and no API token is set. "
            f"Set {config.APHRODITE_BATCH_DEBUG_TOKEN} to a long random value (every /api/ call "
            f"then needs 'Authorization: Bearer <token>'), or serve on 127.0.0.1."
        )
    if not 0 <= int(port) <= 65535:
        raise ServeError(f"Port must be from 0 to 65535, not {port}.")
    try:
        return make_server(host, int(port), app, threaded=True, request_handler=_QuietHandler)
    except OSError as exc:
        raise ServeError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    except SystemExit as exc:  # werkzeug exits when the port is taken
        raise ServeError(f"Cannot listen on {host}:{port}: the address is in use.") from exc


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, app: Flask | None = None) -> None:
    """Serve the dashboard until interrupted; ServeError if it cannot or must not."""
    server = create_server(host, port, app=app)
    print(f"batch-debug dashboard listening on {url_of(server)}", flush=True)
    if server.app.config.get("API_TOKEN"):  # type: ignore[attr-defined]
        print("API token required: send 'Authorization: Bearer <token>'", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("interrupted; stopping the dashboard")
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    """``python -m batch_debug.dashboard.server``: a stand-in for ``batch-debug serve``."""
    parser = argparse.ArgumentParser(prog="python -m batch_debug.dashboard.server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--dir", default=None, help=f"debug folder (default: ${config.APHRODITE_BATCH_DEBUG_DIR})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app({"DEBUG_DIR": args.dir} if args.dir else None)
    try:
        serve(args.host, args.port, app=app)
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
