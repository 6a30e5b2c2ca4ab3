"""HTTP/1.1 plumbing for the Jellyfin simulator: keep-alive, Content-Length, sockets, failure delivery.

The Jellyfin behaviour lives in ``simulator.py``; this module only moves
bytes. The server calls two methods of the simulator it is given:
``respond(method, path, query, headers, body, reused) -> (route kind, Reply)``
(``reused``: an earlier request came on this connection) and
``record(method, path, kind, reply)`` (called before any byte of the answer is
sent, so a client that checks stats straight after its call sees its request).

How a ``Reply`` goes out:

- ``status`` None: nothing is sent; after ``stall_s`` (0 for a drop) the
  connection is closed (the client reads EOF: "server disconnected").
- ``cut``: the status line and headers (full Content-Length), then half the
  body; "stall" then waits ``stall_s`` and "drop" does not; the connection is
  closed either way (the client sees a short body).
- ``rate``: the body is written in slices of at most ``rate // 20`` bytes,
  each due at ``start + offset / rate``.
- ``kill_server``: before anything is sent, ``die()`` ends the accept loop
  and closes the listening socket, so new connections are refused; handler
  threads of open keep-alive connections live on (the simulator drops their
  requests).

Every wait (delays, stalls, pacing) is on ``SimulatorServer.stopping``,
which ``stop`` sets, so stopping the simulator never waits for a stall.
"""

from __future__ import annotations

import logging
import re
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .replies import Reply, text_reply

logger = logging.getLogger("batch_debug.jellyfin.simulator")

MAX_REQUEST_BODY = 1 << 20
RATE_SLICES = 20  # a paced body goes out in slices of rate/20 bytes, one every ~50 ms
_QUERY_VALUES = re.compile(r"([?&][^=&\s]*=)[^&\s'\"]*")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients can reuse connections
    timeout = 30  # idle keep-alive sockets are closed so handler threads don't pile up
    server: SimulatorServer
    _server_header = "Kestrel"
    _requests_read = 0

    def version_string(self) -> str:
        return self._server_header

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
        sim, stopping = self.server.sim, self.server.stopping
        parts = urlsplit(self.path)
        reused, self._requests_read = self._requests_read > 0, self._requests_read + 1
        try:
            kind, reply = sim.respond(self.command, parts.path, parts.query, self.headers, self._read_body(), reused)
        except Exception:  # a simulator bug must still answer, not drop the connection
            logger.exception("simulator failed on %s %s", self.command, parts.path)
            kind, reply = "other", text_reply(500, "Internal Server Error")
        if reply.delay_s:
            stopping.wait(reply.delay_s)
        sim.record(self.command, parts.path, kind, reply)  # before sending: no race with clients
        if reply.kill_server:
            self.server.die()  # before answering, so no client reaches the listener after this answer
        if reply.status is None:
            if reply.stall_s:
                stopping.wait(reply.stall_s)
            self.close_connection = True  # no status line: the client reads EOF
            return
        self._send_head(reply, reply.status)
        if self.command != "HEAD":
            self._send_body(reply)

    def _send_head(self, reply: Reply, status: int) -> None:
        self._server_header = reply.server
        self.send_response(status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.close:
            self.send_header("Connection", "close")  # also sets close_connection
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self._server_header = "Kestrel"

    def _send_body(self, reply: Reply) -> None:
        body = memoryview(reply.body)
        if reply.cut:
            body = body[:len(body) // 2]
        finished = self._write(body, reply.rate)
        if reply.cut:
            if reply.cut == "stall" and finished:
                self.server.stopping.wait(reply.stall_s)
            self.close_connection = True  # the rest of the body never comes

    def _write(self, body: memoryview, rate: int | None) -> bool:
        """Write ``body`` (paced at ``rate`` bytes/s); False if the simulator stopped first."""
        if not rate:
            self.wfile.write(body)
            return True
        step = max(1, rate // RATE_SLICES)
        start = time.monotonic()
        for offset in range(0, len(body), step):
            wait = start + offset / rate - time.monotonic()  # deadlines, so slow writes don't add up
            if wait > 0 and self.server.stopping.wait(wait):
                self.close_connection = True
                return False
            self.wfile.write(body[offset:offset + step])
        return True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle


class SimulatorServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server that hands each request to ``sim.respond`` and ``sim.record``.

    ``stopping`` is set when the simulator stops (every wait watches it);
    ``dead`` once ``die()`` closed the listening socket.
    """

    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of new connections (8 workers starting at once)
    # would overflow it and wait a SYN retransmit (1 s). Kestrel listens with 512.
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], sim: Any) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self.dead = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse-DNS lookup (getfqdn) that can stall; skip it.
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = str(host)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Named threads, so a test (or a person with a debugger) can tell this server's handlers apart.
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"jellyfin-sim-{self.server_port}-conn", daemon=True)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            # Clients that time out on a stall or a slow body hang up mid-write: expected here.
            logger.debug("client %s went away: %r", client_address, error)
        else:
            logger.exception("simulator connection from %s failed", client_address)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def die(self) -> None:
        """Stop accepting for good: end the accept loop, then close the listening socket.

        Called from a handler thread, never from the thread running
        ``serve_forever`` (``shutdown`` waits for that loop to end).
        """
        if self.dead.is_set():
            return
        self.dead.set()
        logger.info("Jellyfin simulator on port %s dies as configured; new connections will be refused",
                    self.server_port)
        self.shutdown()
        self.socket.close()  # after the loop ended, so its selector never polls a closed socket

    def close_connections(self) -> None:
        """Wake every wait and unblock handler threads parked on idle keep-alive sockets."""
        self.stopping.set()
        with self._connections_lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
