"""Credentials learned from what a job sends, and their fingerprints.

Usage::

    found = credentials(request.headers, request.url.query)      # {"authorization": "k3y..."}
    for value in found.values():
        current_book().learn(value)                               # scrubbed from now on
    form, value = effective(found)                                # the one Jellyfin would use
    fingerprint(value)                                            # "1f3a9c0e": safe to write down

A job may pass its Jellyfin key only in its own request headers (not
``JELLYFIN_API_KEY``, not ``Pipeline.add_secret``) and then paste those
headers into an item's error text. Every value seen in a Jellyfin auth
position of an outgoing request, and the ``AccessToken`` of a login answer,
is therefore learned *before* anything about that request is recorded, and
scrubbed from then on wherever text is written (job files, spans, logs).

Learned values go into a :class:`SecretBook`: the process's book by
default, or a private one inside :func:`private_book` (the Custom ID Test,
whose key a caller supplies: it must not make the whole process redact an
arbitrary word). Only values that :func:`redact.is_literal_secret` accepts
are learned (8+ token characters), so short words never become redactions.

Fingerprints identify a credential in a job file without revealing it: the
first 8 hex digits of a SHA-256 of the value. Jellyfin keys and access
tokens are 128-bit random values, so a fingerprint cannot be turned back.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import unquote

from .redact import is_literal_secret

#: Most values a book keeps; the oldest learned go first.
MAX_LEARNED = 256

# The ``Token`` field of a ``MediaBrowser``/``Emby`` authorization header, quoted or bare.
_TOKEN = re.compile(r'\bToken\s*=\s*(?:"([^"]*)"|([^,\s"]+))', re.IGNORECASE)

#: Where Jellyfin looks for a key, in the order it looks (AuthorizationContext), as form names.
HEADER_FORMS = {
    b"authorization": "authorization",
    b"x-emby-authorization": "x-emby-authorization",
    b"x-emby-token": "x-emby-token",
    b"x-mediabrowser-token": "x-mediabrowser-token",
}
#: Forms whose header value is a ``Token="..."`` field list rather than the key itself.
_FIELD_FORMS = frozenset({"authorization", "x-emby-authorization"})
#: Query parameters (lower-case) that carry a key: form names.
QUERY_FORMS = {"apikey": "query-apikey", "api_key": "query-api_key"}
#: Forms Jellyfin reads only while legacy authorization is enabled (off by default from 12.0 / 10.12).
LEGACY_FORMS = frozenset({"x-emby-authorization", "x-emby-token", "x-mediabrowser-token", "query-api_key"})
#: Forms that servers older than 10.8 do not read.
MODERN_FORMS = frozenset({"authorization", "query-apikey"})
_ORDER = ("authorization", "x-emby-authorization", "query-apikey", "x-emby-token", "x-mediabrowser-token",
          "query-api_key")


class SecretBook:
    """A bounded, thread-safe set of literal secrets; reading is lock-free."""

    def __init__(self, limit: int = MAX_LEARNED) -> None:
        self._limit = limit
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._snapshot: tuple[str, ...] = ()

    def learn(self, value: str | None) -> bool:
        """Remember ``value`` (if it is worth scrubbing); True when it is new."""
        if not value or value in self._values or not is_literal_secret(value):
            return False
        with self._lock:
            if value in self._values:
                return False
            self._values[value] = None
            while len(self._values) > self._limit:
                self._values.popitem(last=False)
            self._snapshot = tuple(self._values)
        return True

    def values(self) -> tuple[str, ...]:
        return self._snapshot

    def __contains__(self, value: object) -> bool:
        return value in self._values


PROCESS = SecretBook()
_current: ContextVar[SecretBook | None] = ContextVar("batch_debug_secret_book", default=None)


def current_book() -> SecretBook:
    """The book learning goes into here: a private one inside :func:`private_book`, else the process's."""
    return _current.get() or PROCESS


@contextmanager
def private_book() -> Iterator[SecretBook]:
    """Learn into a fresh book for the duration (values stay out of the process's book)."""
    book = SecretBook()
    token = _current.set(book)
    try:
        yield book
    finally:
        _current.reset(token)


def token_field(value: str) -> str | None:
    """The ``Token`` of a ``MediaBrowser Client="...", Token="..."`` header value, or None."""
    match = _TOKEN.search(value)
    if match is None:
        return None
    return unquote(match.group(1) if match.group(1) is not None else match.group(2)) or None


def _pairs(headers: Any) -> Iterable[tuple[bytes, bytes]]:
    """(lower-case name, value) byte pairs of ``httpx.Headers`` or of any iterable of raw byte pairs.

    httpx's public ``Headers.raw`` (the names as sent) rather than its private
    list: ``collector`` stays clear of upstream private attributes, which only
    ``instrumentation.upstream`` may touch, and may not import it.
    """
    return ((name.lower(), value) for name, value in getattr(headers, "raw", headers))


def credentials(headers: Any, query: bytes) -> dict[str, str]:
    """Every credential a request carries, ``{form: value}`` (the first value of each form).

    ``headers`` are ``httpx.Headers`` or raw (name, value) byte pairs,
    ``query`` the raw query string.
    """
    found: dict[str, str] = {}
    for name, raw in _pairs(headers):
        form = HEADER_FORMS.get(name)
        if form is None or form in found:
            continue
        text = raw.decode("latin-1")
        value = token_field(text) if form in _FIELD_FORMS else text.strip()
        if value:
            found[form] = value
    if query and b"api" in query.lower():
        for pair in query.decode("latin-1").split("&"):
            key, _, given = pair.partition("=")
            form = QUERY_FORMS.get(key.lower())
            if form is not None and given and form not in found:
                found[form] = unquote(given)
    return found


def effective(found: dict[str, str]) -> tuple[str, str] | None:
    """The ``(form, value)`` Jellyfin would use among ``found``, in its own order of looking."""
    for form in _ORDER:
        if form in found:
            return form, found[form]
    return None


def fingerprint(value: str) -> str:
    """8 hex digits that tell credentials apart in a job file without revealing them."""
    return hashlib.sha256(b"batch-debug credential\0" + value.encode("utf-8", "replace")).hexdigest()[:8]
