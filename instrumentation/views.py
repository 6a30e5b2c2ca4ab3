"""Light views of an aiohttp or requests exchange, read by ``exchange.Attempt`` as it reads httpx's.

``Attempt`` reads a request through the names ``httpx.Request`` has:
``method``; ``url`` (``str()`` of it, ``scheme``, ``host``, ``port``,
``path`` unquoted, ``query`` as raw bytes); ``headers`` (``raw`` byte pairs,
``multi_items()`` as text); ``extensions``. A real ``httpx.Request`` built
for each aiohttp or requests attempt cost about 17 us, most of it parsing a
URL the client had already parsed, against about 97 us for a whole aiohttp
request; a view takes the parts as the client holds them (yarl's URL,
requests' prepared URL text) for a few microseconds.

Header values are kept as bytes the way the client sends them: aiohttp
encodes text values as UTF-8, requests (``http.client``) as Latin-1.

An answer's head is given to ``Attempt`` as a cheap ``httpx.Response`` without
a body (:func:`answer_view`): each client's body is read off its own stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from ..collector.routes import DEFAULT_PORTS


class URLView:
    """The parts of a URL ``Attempt`` reads (the names of ``httpx.URL``'s)."""

    __slots__ = ("_text", "scheme", "host", "port", "path", "query")

    def __init__(self, text: str, scheme: str, host: str, port: int | None, path: str, query: bytes) -> None:
        self._text, self.scheme, self.host, self.port, self.path, self.query = text, scheme, host, port, path, query

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"URLView({self._text!r})"


class HeadersView:
    """A request's headers as ``(raw name, lower-case name, value)`` byte triples, in order."""

    __slots__ = ("triples",)

    def __init__(self, triples: list[tuple[bytes, bytes, bytes]]) -> None:
        self.triples = triples

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return [(name, value) for name, _, value in self.triples]

    def multi_items(self) -> list[tuple[str, str]]:
        """Names and values as text (UTF-8, else Latin-1: what was sent is never refused here)."""
        return [(name.decode("latin-1"), _text(value)) for name, _, value in self.triples]

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower().encode("latin-1")
        for _, lower, value in self.triples:
            if lower == wanted:
                return _text(value)
        return default


class RequestView:
    """What ``Attempt`` reads of one request (the names of ``httpx.Request``'s)."""

    __slots__ = ("method", "url", "headers", "extensions")

    def __init__(self, method: str, url: URLView, headers: HeadersView) -> None:
        self.method, self.url, self.headers = method, url, headers
        self.extensions: dict[str, Any] = {}


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _triples(pairs: Iterable[tuple[Any, Any]], encoding: str) -> list[tuple[bytes, bytes, bytes]]:
    triples = []
    for name, value in pairs:
        raw = name if isinstance(name, bytes) else str(name).encode("latin-1")
        data = value if isinstance(value, bytes) else str(value).encode(encoding)
        triples.append((raw, raw.lower(), data))
    return triples


def from_yarl(method: str, url: Any, headers: Iterable[tuple[Any, Any]]) -> RequestView:
    """A view of an aiohttp request: ``url`` is its ``yarl.URL``, ``headers`` name/value pairs."""
    view = URLView(str(url), url.scheme, url.host or "", url.explicit_port or DEFAULT_PORTS.get(url.scheme),
                   url.path, url.raw_query_string.encode("ascii", "replace"))
    return RequestView(method, view, HeadersView(_triples(headers, "utf-8")))


def from_text(method: str, url: str, headers: Iterable[tuple[Any, Any]]) -> RequestView:
    """A view of a requests ``PreparedRequest``: ``url`` its prepared (already encoded) URL text.

    Raises ``ValueError`` for a URL whose port is not a number (the caller sends such a request untraced).
    """
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    view = URLView(url, parts.scheme, parts.hostname or "", port, unquote(parts.path) or "/",
                   parts.query.encode("ascii", "replace"))
    return RequestView(method, view, HeadersView(_triples(headers, "latin-1")))


class _NoBody(httpx.SyncByteStream):
    """An answer view's body: the client's own is read off its own stream (an httpx ``ByteStream`` would be
    read at once)."""

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


_NO_BODY = _NoBody()


def answer_view(status: int, headers: Iterable[tuple[Any, Any]], http_version: bytes | None) -> httpx.Response:
    """What ``exchange.Attempt`` reads of an answer's head (status, headers, ``b"HTTP/1.1"``), as an
    ``httpx.Response`` without a body."""
    return httpx.Response(status, headers=list(headers), stream=_NO_BODY,
                          extensions={"http_version": http_version} if http_version else {})


def aiohttp_request(method: str, url: Any, headers: Any) -> RequestView:
    """What ``exchange.Attempt`` reads of an aiohttp request (its yarl URL: no second parse of it)."""
    return from_yarl(method, url, headers.items())


def aiohttp_answer(status: int, raw_headers: Any, version: Any) -> httpx.Response:
    """An aiohttp answer's head as ``exchange.Attempt`` reads it (``version``: aiohttp's ``HttpVersion``)."""
    return answer_view(status, raw_headers, b"HTTP/%d.%d" % (version.major, version.minor) if version else None)
