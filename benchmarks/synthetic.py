"""Canned answers under a real ``httpx.Client``: everything but the network is real.

Usage::

    answer = answer_bytes(httpx.get(url))          # the server's real answer, once
    with httpx.Client(transport=canned_transport(answer)) as client:
        client.get(url)                            # our gate, httpx, httpcore, h11: all real

The transport is a plain ``httpx.HTTPTransport`` (so our gate in front of
``HTTPTransport.handle_request`` records every request, as in a worker),
whose httpcore connection pool talks to an in-memory network backend: each
request written to a "socket" is answered with the same canned HTTP/1.1
bytes. httpcore's HTTP/1.1 connection, h11's parser, connection reuse and
the ``trace`` events our record reads all run as for a real server; only the
kernel and the server's side are gone. The million-request job uses this
instead of a million network round trips (issue 12 allows it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

#: A poster-like answer, for when no real one was fetched (the smoke test).
DEFAULT_ANSWER = (b"HTTP/1.1 200 OK\r\nServer: Kestrel\r\nContent-Type: image/png\r\n"
                  b"Content-Length: 1024\r\n\r\n" + bytes(1024))
_HOP_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"content-encoding", b"connection"})


def answer_bytes(response: httpx.Response) -> bytes:
    """A real (read) response as the HTTP/1.1 bytes a server would send, body decoded, length set."""
    body = response.content
    lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}".encode("latin-1")]
    lines += [name + b": " + value for name, value in response.headers.raw if name.lower() not in _HOP_HEADERS]
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class CannedStream(httpcore.NetworkStream):
    """A keep-alive "connection" that answers every request written to it with ``answer``."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer
        self._pending = b""

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:  # a request (or its end, which h11 writes as b"" for a GET) was sent
            self._pending = self._answer

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        chunk, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return chunk

    def close(self) -> None:
        self._pending = b""

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return self

    def get_extra_info(self, info: str) -> Any:
        return None  # "is_readable" None: an idle connection has not been closed by the server


class CannedBackend(httpcore.NetworkBackend):
    """Connections that never leave the process (see :class:`CannedStream`); counts those opened."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.connections = 0

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        self.connections += 1
        return CannedStream(self.answer)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("the canned backend has no unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def canned_transport(answer: bytes = DEFAULT_ANSWER) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` (our gate applies) whose pool answers from memory."""
    transport = httpx.HTTPTransport()
    # httpx takes no network backend argument: its pool is the one place to put ours (a benchmark,
    # not the product, so this private attribute is not one of upstream.py's pinned contracts).
    transport._pool = httpcore.ConnectionPool(network_backend=CannedBackend(answer))  # noqa: SLF001
    return transport
