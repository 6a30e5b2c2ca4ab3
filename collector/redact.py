"""Redaction of Jellyfin credentials from URLs, headers and free text.

Jellyfin accepts its API key as ``Authorization: MediaBrowser Token="..."``,
``X-Emby-Token``, ``X-MediaBrowser-Token``, ``X-Emby-Authorization`` and the
query parameters ``ApiKey`` / ``api_key`` (any case); logins answer with an
``AccessToken``. Every output of batch-debug passes through these functions,
and the job file writer runs :func:`redact_text` over the whole file as a
last line of defence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping

REDACTED = "[REDACTED]"

#: Headers whose whole value is a secret.
SECRET_HEADERS = frozenset({
    "x-emby-token", "x-mediabrowser-token", "cookie", "set-cookie", "x-api-key",
})
#: Headers in the ``Scheme key="value", Token="..."`` form: only the token goes.
AUTH_HEADERS = frozenset({"authorization", "x-emby-authorization", "proxy-authorization"})
#: Query parameters (compared without case) whose value is a secret: ``_QUERY_SECRET`` is built from it.
SECRET_QUERY_PARAMS = frozenset({"api_key", "apikey", "token", "access_token", "accesstoken"})

# The quote may arrive escaped (\\") when the text is already JSON-encoded.
_TOKEN_FIELD = re.compile(r'(\b(?:Token|AccessToken)\s*=\s*)(\\?")[^"\\]*\2', re.IGNORECASE)
_TOKEN_FIELD_BARE = re.compile(r'(\b(?:Token|AccessToken)\s*=\s*)(?![\\"])[^,\s"\\]+', re.IGNORECASE)
# In a URL's query, or as a word of free text (a page that echoes "api_key=..." back): not inside a longer name.
_QUERY_SECRET = re.compile(
    rf"((?<![\w.-])(?:{'|'.join(map(re.escape, sorted(SECRET_QUERY_PARAMS)))})=)[^&#\s\"'<>\\]+", re.IGNORECASE
)
_JSON_SECRET = re.compile(
    r'("(?:AccessToken|ApiKey|api_key|Token|x-emby-token|x-mediabrowser-token)"\s*:\s*)"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(r"(\b(?:X-Emby-Token|X-MediaBrowser-Token)\s*[:=]\s*)[^\s,\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def _quoted(match: re.Match[str]) -> str:
    quote = match.group(2)
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


def redact_url(url: str) -> str:
    """The URL with secret query values and any user:password replaced."""
    url = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, url)
    # user:password@host: keep the host, drop the credentials.
    return re.sub(r"(://)[^/@\s]+@", r"\1" + REDACTED + "@", url, count=1)


def redact_header_value(name: str, value: str) -> str:
    """One header value, redacted according to its (case-insensitive) name."""
    lower = name.lower()
    if lower in SECRET_HEADERS:
        return REDACTED
    if lower in AUTH_HEADERS:
        redacted = _TOKEN_FIELD.sub(_quoted, value)
        redacted = _TOKEN_FIELD_BARE.sub(lambda m: m.group(1) + REDACTED, redacted)
        redacted = _BEARER.sub(lambda m: m.group(1) + REDACTED, redacted)
        if redacted == value and value.strip():
            # An auth header we cannot parse is a secret as a whole.
            return REDACTED
        return redacted
    return value


def redact_headers(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """Headers as a ``{lower-case name: value}`` dict with secrets redacted.

    Repeated headers are joined with ``", "`` as HTTP allows.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        clean = redact_header_value(key, value)
        out[key] = f"{out[key]}, {clean}" if key in out else clean
    return out


_LETTER = re.compile(r"[A-DF-Za-df-z]")
_SECRET_CHARS = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


def is_literal_secret(secret: str | None) -> bool:
    """True for a value worth removing wherever it appears, and safe to remove from JSON text.

    At least 8 characters from ``[A-Za-z0-9._~+/=-]`` with a letter other
    than ``e``: such a value cannot be part of a JSON number, keyword or
    escape, so replacing it in serialised JSON keeps the JSON valid. Shorter
    values ("k", "test") would eat ordinary words.
    """
    return (secret is not None and len(secret) >= 8 and bool(_SECRET_CHARS.match(secret))
            and bool(_LETTER.search(secret)))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text with every known credential form, and each literal secret, removed."""
    return _redact_text(text, [s for s in secrets if is_literal_secret(s)])


def _redact_text(text: str, literal: Iterable[str]) -> str:
    """:func:`redact_text` with its secrets already checked by :func:`is_literal_secret`."""
    for secret in literal:
        if secret in text:
            text = text.replace(secret, REDACTED)
    lower = text.lower()
    if "token" not in lower and "api" not in lower and "bearer" not in lower:
        return text  # every pattern below needs one of these words: most texts have none
    text = _TOKEN_FIELD.sub(_quoted, text)
    text = _TOKEN_FIELD_BARE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _JSON_SECRET.sub(lambda m: m.group(1) + '"' + REDACTED + '"', text)
    text = _HEADER_LINE.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


def redact_tree(value: object, secrets: Iterable[str] = ()) -> object:
    """A JSON-like value with :func:`redact_text` applied to every string in it, dict keys included.

    Used on whole job files before they are serialised, so escaping can never
    hide a secret from the patterns. Copy on write: a dict or list in which
    nothing changed comes back as the same object (a tuple as a list only when
    something in it changed), so the result may share parts with ``value``.
    """
    return _Walk(tuple(s for s in secrets if is_literal_secret(s))).tree(value)


#: Values with no text in them: passed through without a call (most of a job file's head).
_PLAIN = frozenset({int, float, bool, type(None)})


class _Walk:
    """One :func:`redact_tree` walk: the secrets checked once, each distinct dict key redacted once."""

    def __init__(self, literal: tuple[str, ...]) -> None:
        self.literal = literal
        self.keys: dict[str, str] = {}
        #: Key sets (as tuples) in which no key changes: a head has a third of a million item records
        #: with the same few keys, each looked at once here instead of once per record.
        self.clean_keys: set[tuple[object, ...]] = set()

    def key(self, key: object) -> object:
        if type(key) is not str:
            return key
        clean = self.keys.get(key)
        if clean is None:
            clean = self.keys[key] = _redact_text(key, self.literal)
        return clean

    def tree(self, value: object) -> object:
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is str or isinstance(value, str):
            return _redact_text(value, self.literal)  # type: ignore[arg-type]
        if isinstance(value, dict):
            return self._dict(value)
        if isinstance(value, (list, tuple)):
            return self._list(value)
        return value

    def _dict(self, value: dict[object, object]) -> dict[object, object]:
        keys = tuple(value)
        if keys not in self.clean_keys:
            if not all(self.key(k) == k for k in keys):
                return self._dict_with_keys(value)
            self.clean_keys.add(keys)
        out: dict[object, object] | None = None
        for key, item in zip(keys, value.values()):
            kind = type(item)
            if kind in _PLAIN:
                continue
            clean = _redact_text(item, self.literal) if kind is str else self.tree(item)  # type: ignore[arg-type]
            if clean is not item and clean != item:
                if out is None:
                    out = dict(value)  # keys and order kept; the changed values replaced in it
                out[key] = clean
        return value if out is None else out

    def _dict_with_keys(self, value: dict[object, object]) -> dict[object, object]:
        return {self.key(key): self.tree(item) for key, item in value.items()}

    def _list(self, value: list[object] | tuple[object, ...]) -> list[object] | tuple[object, ...]:
        out: list[object] | None = None
        for index, item in enumerate(value):
            clean = item if type(item) in _PLAIN else self.tree(item)
            if out is None and clean is not item and clean != item:
                out = list(value[:index])
            if out is not None:
                out.append(clean)
        return value if out is None else out


class RedactingFilter(logging.Filter):
    """A logging filter that redacts credentials from each record's message.

    Installed on the httpx and httpcore loggers by ``instrumentation.setup``
    (httpx logs every URL at INFO, query key included) and on the CLI's
    handler. ``secrets`` returns literal values to remove as well.
    """

    def __init__(self, secrets: Callable[[], Iterable[str]] = tuple) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        clean = redact_text(message, list(self._secrets()))
        if clean != message:
            record.msg, record.args = clean, None
        return True


#: Third-party loggers that can print request URLs or headers.
NOISY_LOGGERS = ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy")


def install_log_redaction(secrets: Callable[[], Iterable[str]] = tuple) -> None:
    """Put a :class:`RedactingFilter` on each of :data:`NOISY_LOGGERS` (once)."""
    for name in NOISY_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter(secrets))
