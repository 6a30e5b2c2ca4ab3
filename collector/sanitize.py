"""Spans from elsewhere, made safe to write: credentials learned, then redacted everywhere.

Usage::

    book = SecretBook()
    clean = [sanitize_span(span, book) for span in received]

The sidecar's OTLP receiver takes spans from any worker, and not all of them
come from batch-debug: a stock instrumentation may have captured an
``X-Emby-Token`` header, a URL may carry ``api_key=``, an item error may
hold a pasted header. Every credential found in a Jellyfin auth position
(header attributes, URL query, ``Token="..."`` fields) is learned into
``book`` first, then every string of the span (name, attributes, event
attributes, status description) is redacted with the patterns and all
learned values. The job file's writer scrubs the learned values once more
over the whole file (``spool``), so a key learned from a late span also
leaves the early ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Status

from . import attributes as A
from .redact import redact_text
from .secrets import HEADER_FORMS, SecretBook, credentials, token_field

_URL_KEYS = (A.HTTP_URL_NEW, A.HTTP_URL_OLD, "url.query", "http.target")
_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
_AUTH_NAMES = frozenset(name.decode() for name in HEADER_FORMS)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def learn_from(attributes: Mapping[str, Any], book: SecretBook) -> None:
    """Learn every credential that ``attributes`` carry in a Jellyfin auth position."""
    for key, value in attributes.items():
        if key in _URL_KEYS and isinstance(value, str) and "?" in value:
            query = value.split("?", 1)[1] if "://" in value or value.startswith("/") else value
            for found in credentials((), query.encode("utf-8", "replace")).values():
                book.learn(found)
        elif key.startswith(_HEADER_PREFIXES) and key.rsplit(".", 1)[-1] in _AUTH_NAMES:
            for text in _strings(value):
                book.learn(token_field(text) or text.strip())
        for text in _strings(value):
            if "token" in text.lower():
                book.learn(token_field(text))


def _clean(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(v, secrets) for v in value)
    return value


def _clean_attributes(attributes: Mapping[str, Any] | None, secrets: tuple[str, ...]) -> dict[str, Any]:
    return {key: _clean(value, secrets) for key, value in (attributes or {}).items()}


def sanitize_span(span: ReadableSpan, book: SecretBook) -> ReadableSpan:
    """A copy of ``span`` with its credentials learned into ``book`` and redacted from every string."""
    learn_from(span.attributes or {}, book)
    for event in span.events:
        learn_from(event.attributes or {}, book)
    secrets = book.values()
    status = span.status
    if status.description:
        status = Status(status.status_code, redact_text(status.description, secrets))
    events = [Event(redact_text(e.name, secrets), _clean_attributes(e.attributes, secrets), e.timestamp)
              for e in span.events]
    return ReadableSpan(
        redact_text(span.name, secrets), span.context, span.parent, span.resource,
        _clean_attributes(span.attributes, secrets), events, span.links, kind=span.kind, status=status,
        start_time=span.start_time, end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
    )
