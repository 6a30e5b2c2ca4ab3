"""HTTP/1.1 plumbing for the Jellyfin simulator: keep-alive, Content-Length, sockets.

The Jellyfin behaviour lives in ``simulator.py``; this module only moves
bytes. The server calls two methods of the simulator it is given:
``respond(method, path, query, headers, body) -> (route kind, Reply)`` and
``record(method, path, kind, status)`` (called before the answer is sent, so
a client that checks stats straight after its call sees its request).
"""

from __future__ import annotations

import logging
import re
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .profiles import text_reply

logger = logging.getLogger("batch_debug.jellyfin.simulator")

MAX_REQUEST_BODY = 1 << 20
_QUERY_VALUES = re.compile(r"([?&][^=&\s]*=)[^&\s'\"]*")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients can reuse connections
    timeout = 30  # idle keep-alive sockets are closed so handler threads don't pile up
    server: SimulatorServer

    def version_string(self) -> str:
        return "Kestrel"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Path only: the query string may carry ApiKey/api_key.
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s", _QUERY_VALUES.sub(r"\1***", format % args))

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every keep-alive
        # response (Kestrel disables Nagle too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # not supported; closing keeps the stream in sync
            return b""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        sim = self.server.sim
        parts = urlsplit(self.path)
        try:
            kind, reply = sim.respond(self.command, parts.path, parts.query, self.headers, self._read_body())
        except Exception:  # a simulator bug must still answer, not drop the connection
            logger.exception("simulator failed on %s %s", self.command, parts.path)
            kind, reply = "other", text_reply(500, "Internal Server Error")
        if reply.delay_s:
            time.sleep(reply.delay_s)
        sim.record(self.command, parts.path, kind, reply.status)  # before sending: no race with clients
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle


class SimulatorServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server that hands each request to ``sim.respond`` and ``sim.record``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sim: Any) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse-DNS lookup (getfqdn) that can stall; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Unblock handler threads parked on idle keep-alive sockets."""
        with self._connections_lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
