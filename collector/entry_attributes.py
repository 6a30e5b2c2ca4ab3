"""What a request span's ``requests`` entry gives back: the attributes a job file's span may leave out.

Usage (the writer, ``span_encoding``; and ``span_records.with_records``, which puts them back)::

    given_back(entry)                   # {"http.request.method": "GET", "url.full": ..., ...}
    slim(span.attributes, entry)        # True: the span's file form may leave GIVEN_BACK out
    merge(kept, list(given.items()))    # where each goes back among the attributes the span kept

A request span of ours carries the semantic-convention attributes
``instrumentation.exchange`` sets, in its order; its ``requests`` entry
(``records.request_record``) holds the same facts. :func:`given_back` reads
them from the entry: method, URL, resend count, status, protocol version,
error type and body size from its keys, server address, port and route
template from its URL, as ``exchange`` read them from the request's.
:func:`slim` is true only where putting them back gives the very
attributes, key for key, in order, each of the same type: any other span
(another instrumentation's, a hostile one, one whose entry says something
else) keeps them. ``user_agent.original`` is the span's own: no entry holds it.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from . import attributes as A
from .attributes import RECORD
from .routes import DEFAULT_PORTS, url_template

#: A request span's attributes in the order ``instrumentation.exchange`` sets them.
_ORDER = (A.HTTP_METHOD_NEW, A.HTTP_URL_NEW, A.SERVER_ADDRESS, A.SERVER_PORT, A.URL_TEMPLATE, A.USER_AGENT,
          A.RESEND_COUNT, A.HTTP_STATUS_NEW, A.PROTOCOL_VERSION, A.ERROR_TYPE, A.BODY_SIZE)
_RANK = {key: rank for rank, key in enumerate(_ORDER)}
#: The attributes a request span's ``requests`` entry gives back (:func:`given_back`).
GIVEN_BACK = frozenset(_ORDER) - {A.USER_AGENT}


def given_back(entry: Mapping[str, Any]) -> dict[str, str | int]:
    """The :data:`GIVEN_BACK` attributes a request span of ours has, as its ``requests`` entry tells them.

    Method, URL, resend count (``attempt`` - 1, from the second attempt on), status, protocol version
    (``HTTP/1.1`` -> ``1.1``), error type (the status for an HTTP error, which the entry leaves out) and
    body size are the entry's; server address, port (a scheme's default when the URL has none) and route
    template are read from its URL, as ``exchange`` read them from the request's.
    """
    found: dict[str, str | int] = {}
    method, url = entry.get("method"), entry.get("url")
    if isinstance(method, str) and method:
        found[A.HTTP_METHOD_NEW] = method
    if isinstance(url, str) and url:
        found[A.HTTP_URL_NEW] = url
        host, port, template = _from_url(url)
        if host:
            found[A.SERVER_ADDRESS] = host
        if port is not None:
            found[A.SERVER_PORT] = port
        if template is not None:
            found[A.URL_TEMPLATE] = template
    attempt = entry.get("attempt")
    if type(attempt) is int and attempt > 1:
        found[A.RESEND_COUNT] = attempt - 1
    status = entry.get("status_code")
    if type(status) is int:
        found[A.HTTP_STATUS_NEW] = status
    version = entry.get("http_version")
    if isinstance(version, str):
        found[A.PROTOCOL_VERSION] = version[5:] if version.startswith("HTTP/") else version
    error = entry.get("error_type")
    if isinstance(error, str):
        found[A.ERROR_TYPE] = error
    elif error is None and type(status) is int and status >= 400:
        found[A.ERROR_TYPE] = str(status)
    size = entry.get("body_bytes")
    if type(size) is int:
        found[A.BODY_SIZE] = size
    return found


def _from_url(url: str) -> tuple[str | None, int | None, str | None]:
    """(host, port, route template) of a URL, as ``exchange`` reads them from ``httpx.URL``."""
    # An item's attempts share a URL and come close together: a small cache, of URLs of a usual length
    # only (a span received from elsewhere may carry megabytes in one; the cache would keep 64 of them).
    return _from_short_url(url) if len(url) <= _CACHED_URL_CHARS else _parse_url(url)


_CACHED_URL_CHARS = 2048


@lru_cache(maxsize=64)
def _from_short_url(url: str) -> tuple[str | None, int | None, str | None]:
    return _parse_url(url)


def _parse_url(url: str) -> tuple[str | None, int | None, str | None]:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not one, an unclosed IPv6 bracket
        return None, None, None
    return host, port or DEFAULT_PORTS.get(parts.scheme), url_template(parts.path)


def slim(attributes: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    """True when a request span's file form may leave out its :data:`GIVEN_BACK` attributes: those
    :func:`given_back` gives for ``entry``, put back where ``span_records.with_records`` puts them, are the very
    attributes it has (less the record), key for key, in order, each of the same type."""
    given = given_back(entry)
    found, last = 0, -1
    for key, value in attributes.items():
        if key == RECORD:
            continue
        rank = _RANK.get(key)
        if rank is None or rank <= last:
            return _slim_by_merging(attributes, given)  # not in a request span's own order: the long way
        last = rank
        if rank in _GIVEN_RANKS:
            was = given.get(key, _NOTHING)
            if was is _NOTHING or type(was) is not type(value) or was != value:
                return False
            found += 1
    # Every key in the order _merge puts them: the same keys, so the same attributes in the same order.
    return found > 0 and found == len(given)


_NOTHING = object()
_GIVEN_RANKS = frozenset(_RANK[key] for key in GIVEN_BACK)


def _slim_by_merging(attributes: Mapping[str, Any], given: dict[str, str | int]) -> bool:
    """:func:`slim` for attributes with a key a request span does not have, or out of its order."""
    original = [(key, value) for key, value in attributes.items() if key != RECORD]
    kept = [(key, value) for key, value in original if key not in GIVEN_BACK]
    if len(kept) == len(original):
        return False  # nothing to leave out (and nothing to put back: a span with none keeps none)
    restored = merge(kept, list(given.items()))
    return len(restored) == len(original) and all(
        key == other and type(value) is type(was) and value == was
        for (key, value), (other, was) in zip(restored, original))


def merge(kept: list[tuple[str, Any]], given: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``kept`` with each of ``given`` (keys of :data:`GIVEN_BACK`) before the first kept key that comes
    after it in a request span's order (:data:`_ORDER`; a key not in it moves nothing); the rest last."""
    given = sorted(given, key=lambda pair: _RANK[pair[0]])
    out: list[tuple[str, Any]] = []
    next_given = 0
    for key, value in kept:
        rank = _RANK.get(key)
        if rank is not None:
            while next_given < len(given) and _RANK[given[next_given][0]] < rank:
                out.append(given[next_given])
                next_given += 1
        out.append((key, value))
    out.extend(given[next_given:])
    return out


def any_value(value: str | int) -> dict[str, Any]:
    """An attribute value as OTLP/JSON has it (as the encoder writes text and ints: an int64 as text)."""
    return {"stringValue": value} if isinstance(value, str) else {"intValue": str(value)}
