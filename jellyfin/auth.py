"""Which API key a request to the Jellyfin simulator carries, read the way Jellyfin reads it.

Contract: ``request_token(headers, query, legacy_auth, legacy_only) -> str | None``
returns the one token Jellyfin would check (it takes the first it finds and
checks only that one), or None. ``query`` maps lowercased names to values.

Order (Jellyfin 10.10): ``Authorization: MediaBrowser ... Token="..."``, then
(legacy) ``X-Emby-Authorization``, then ``?ApiKey=``, then (legacy)
``X-Emby-Token``, ``X-MediaBrowser-Token`` and ``?api_key=``. With
``legacy_only`` (a server older than 10.8, or a proxy that strips
``Authorization``) the ``Authorization`` header and ``ApiKey`` are ignored and
the legacy forms are read even when ``legacy_auth`` is off.
"""

from __future__ import annotations

import logging
import re
from typing import Mapping
from urllib.parse import unquote

logger = logging.getLogger(__name__)

_AUTH_SCHEME = re.compile(r"^\s*(?:MediaBrowser|Emby)\s+(.*)$", re.IGNORECASE | re.DOTALL)
_AUTH_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,]*))\s*(?:,|$)')


def token_from_auth_header(value: str | None) -> str | None:
    """The ``Token`` field of a ``MediaBrowser``/``Emby`` authorization header (field names any case)."""
    match = _AUTH_SCHEME.match(value or "")
    if not match:
        return None
    for param in _AUTH_PARAM.finditer(match.group(1)):
        if param.group(1).lower() == "token":
            raw = param.group(2) if param.group(2) is not None else param.group(3).strip()
            return unquote(raw) or None  # Jellyfin URL-decodes header values
    return None


def request_token(headers: Mapping[str, str], query: Mapping[str, str], legacy_auth: bool,
                  legacy_only: bool = False) -> str | None:
    """The token Jellyfin would check for this request, or None."""
    legacy = legacy_auth or legacy_only
    token = None if legacy_only else token_from_auth_header(headers.get("Authorization"))
    if token is None and legacy:
        token = token_from_auth_header(headers.get("X-Emby-Authorization"))
    if not legacy_only:
        token = token or query.get("apikey")
    if not token and legacy:
        token = headers.get("X-Emby-Token") or headers.get("X-MediaBrowser-Token") or query.get("api_key")
    return token or None
