"""Run the dashboard: safe by default, on a production WSGI server (waitress).

Usage::

    from batch_debug.dashboard.server import ServeError, serve
    try:
        serve("127.0.0.1", 8000)          # blocks until Ctrl-C
    except ServeError as exc:
        print(exc)

From the shell this is ``batch-debug serve`` (``dashboard/cli.py``), the one
entry point.

:func:`serve` binds a loopback address unless told otherwise, and refuses
(``ServeError``) to bind any other address while the app has no API token
(``APHRODITE_BATCH_DEBUG_TOKEN``): an open debug switch and job files must
not be reachable from the network by accident. A port that cannot be bound
is a ``ServeError`` too (a busy one: ``port N on HOST is in use ...``, found
before waitress tries, so it is the only line). Once listening it prints one line,
``batch-debug dashboard listening on http://HOST:PORT/``, with the real port
(port 0 picks a free one).

Why waitress and not Werkzeug's development server: that one starts a thread
per connection and waits for a request's headers forever, so 800 clients that
send half a request hold 800 threads. Waitress reads requests on one thread
(asyncore) and hands only complete ones to a fixed pool, so half-sent
requests cost a socket each, not a thread; it closes connections idle for
``SERVER_CHANNEL_TIMEOUT`` seconds (a request still half-sent by then is
dropped), and stops accepting past ``SERVER_CONNECTION_LIMIT`` (the soft
open-file limit is raised to fit it when the hard limit allows). Bodies over
the largest any route takes, and request heads over
``SERVER_MAX_HEADER_BYTES``, are refused before the app sees them. The
limits are the app's ``SERVER_*`` settings (``app.SERVER_DEFAULTS``;
``APHRODITE_BATCH_DEBUG_SERVER_THREADS=4`` in the environment or the
``create_app`` mapping overrides one). Request lines are logged at DEBUG, failures at
INFO.
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast

from flask import Flask
from waitress.server import create_server as waitress_server

from ..collector import config
from .app import SERVER_DEFAULTS, create_app
from .hosts import is_loopback
from .otlp import MAX_BODY_BYTES as OTLP_MAX_BODY_BYTES

__all__ = ["DashboardServer", "ServeError", "create_server", "is_loopback", "run", "serve", "url_of"]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class ServeError(Exception):
    """The dashboard cannot be served as asked; the message says why and what to do."""


def _setting(app: Flask, name: str) -> int:
    value = app.config.get(name, SERVER_DEFAULTS[name])
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        logger.warning("%s=%r is not a whole number of at least 1; using %d", name, value, SERVER_DEFAULTS[name])
        return SERVER_DEFAULTS[name]
    return number


class _AccessLog:
    """WSGI middleware: request lines at DEBUG (the page polls every 2 s), failures at INFO."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def logged(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            code = status.split(" ", 1)[0]
            level = logging.INFO if not code.isdigit() or int(code) >= 400 else logging.DEBUG
            logger.log(level, "%s %s -> %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), code)
            return start_response(status, headers, exc_info)

        return self.app(environ, logged)


class DashboardServer:
    """A bound waitress server for the app; :meth:`serve_forever` runs it, :meth:`shutdown` stops it.

    ``host`` and ``server_port`` are what it listens on (the real port when
    asked for 0). ``shutdown`` may be called from any thread.
    """

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self.app = app
        self._map: dict[int, Any] = {}
        family, address = _resolve(host, port)
        listen = f"[{address}]:{port}" if family == socket.AF_INET6 else f"{address}:{port}"
        # Any: with one listen address this is a single-socket server, whose effective_host, effective_port
        # and trigger the stubs leave out of the union create_server is declared to return.
        self._server = cast(Any, waitress_server(
            _AccessLog(app), map=self._map, listen=listen, ident="batch-debug",
            threads=_setting(app, "SERVER_THREADS"),
            connection_limit=_room_for(_setting(app, "SERVER_CONNECTION_LIMIT")),
            channel_timeout=_setting(app, "SERVER_CHANNEL_TIMEOUT"),
            cleanup_interval=_setting(app, "SERVER_CLEANUP_INTERVAL"),
            max_request_header_size=_setting(app, "SERVER_MAX_HEADER_BYTES"),
            backlog=_setting(app, "SERVER_BACKLOG"),
            max_request_body_size=OTLP_MAX_BODY_BYTES + (1 << 20),  # the largest body any route takes
            asyncore_use_poll=True,  # select() stops at 1024 descriptors
            clear_untrusted_proxy_headers=False,  # X-Forwarded-Host is judged by auth, against the allow-list
        ))
        self.host = str(self._server.effective_host)
        self.server_port = int(self._server.effective_port)
        self._running = False
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or Ctrl-C)."""
        self._running = True
        try:
            self._server.run()
        finally:
            self._running = False
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Close every connection and the listening socket in the serving thread, then wait for it to end."""
        if self._running:
            self._server.trigger.pull_trigger(self._close_all)  # the loop's map is not thread-safe
            self._stopped.wait(timeout)

    def _close_all(self) -> None:
        for dispatcher in list(self._map.values()):
            dispatcher.close()

    def server_close(self) -> None:
        """Release the socket and the worker threads; stops serving first if it still is."""
        self.shutdown()
        self._close_all()
        self._server.task_dispatcher.shutdown()


#: Descriptors kept free for everything but client connections (job files, the listening socket, logs).
SPARE_DESCRIPTORS = 64


def _room_for(connections: int) -> int:
    """``connections``, after raising the soft descriptor limit to fit them if the hard limit allows.

    Beyond the descriptor limit ``accept`` would fail instead of new clients
    waiting; so when the hard limit is lower, the connection limit is cut to
    fit, with a warning.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            soft = new_soft
        except (ValueError, OSError):
            logger.warning("could not raise the open-file limit from %d to %d", soft, new_soft)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fitted = max(1, soft - SPARE_DESCRIPTORS)
        logger.warning("SERVER_CONNECTION_LIMIT=%d does not fit the open-file limit %d; using %d",
                       connections, soft, fitted)
        return fitted
    return connections


def _resolve(host: str, port: int) -> tuple[int, str]:
    """One numeric address for ``host`` (``localhost`` would otherwise become two sockets)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]") or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    infos.sort(key=lambda info: info[0] != socket.AF_INET)  # IPv4 first, as 127.0.0.1 is the default
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


def url_of(server: DashboardServer) -> str:
    host = server.host if ":" not in server.host else f"[{server.host}]"
    return f"http://{host}:{server.server_port}/"


def create_server(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, app: Flask | None = None) -> DashboardServer:
    """A bound server for the app (not yet serving)."""
    app = app if app is not None else create_app()
    if not is_loopback(host) and not app.config.get("API_TOKEN"):
        raise ServeError(
            f"Refusing to serve on {host}: it is not a loopback address and no API token is set. "
            f"Set {config.APHRODITE_BATCH_DEBUG_TOKEN} to a long random value (every /api/ call "
            f"then needs 'Authorization: Bearer <token>'), or serve on 127.0.0.1."
        )
    if not 0 <= int(port) <= 65535:
        raise ServeError(f"Port must be from 0 to 65535, not {port}.")
    # Tried with a plain socket first: waitress, failing to bind, leaves its own objects to complain.
    _check_port(host, int(port))
    try:
        return DashboardServer(app, host, int(port))
    except OSError as exc:
        raise _listen_error(host, int(port), exc) from exc


def _listen_error(host: str, port: int, exc: OSError) -> ServeError:
    if exc.errno == errno.EADDRINUSE:
        return ServeError(f"port {port} on {host} is in use: stop what listens there, or choose another "
                          f"port (--port; 0 picks a free one).")
    return ServeError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.")


def _check_port(host: str, port: int) -> None:
    """ServeError when ``host:port`` cannot be bound now (port 0 always can)."""
    if port == 0:
        return
    family, address = _resolve(host, port)
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds: TIME_WAIT is free
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind((address, port))
    except OSError as exc:
        raise _listen_error(host, port, exc) from exc
    finally:
        probe.close()


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, app: Flask | None = None) -> None:
    """Serve the dashboard until interrupted; ServeError if it cannot or must not."""
    run(create_server(host, port, app=app))


def run(server: DashboardServer) -> None:
    """Serve a bound server (:func:`create_server`) until interrupted, then release it."""
    print(f"batch-debug dashboard listening on {url_of(server)}", flush=True)
    if server.app.config.get("API_TOKEN"):
        print("API token required: send 'Authorization: Bearer <token>'", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("interrupted; stopping the dashboard")
    finally:
        server.server_close()

