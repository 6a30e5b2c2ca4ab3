"""Which names the dashboard answers to: loopback, plus the operator's allow-list.

Usage::

    allowed = AllowedHosts(["debug.example.lan"])
    allowed.allows_host("127.0.0.1:8000")          # True: loopback, any port
    allowed.allows_host("evil.example:8000")       # False: a DNS-rebinding name
    allowed.allows_origin("https://debug.example.lan")

Why: a page on ``evil.example`` can make its own name resolve to 127.0.0.1
(DNS rebinding); the browser then sends requests to the dashboard that are
same-origin for the browser, with ``Host: evil.example:PORT`` and a matching
``Origin``. Only the ``Host`` header gives that away, so it is checked against
names the operator chose, never against itself.

Pure functions of header values; ``auth`` decides when they apply.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})


class HostPort(NamedTuple):
    """A ``Host``-style value split into a lower-case name (no brackets) and its port (None if absent)."""

    name: str
    port: int | None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1), with or without brackets."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


def split_host(value: str) -> HostPort | None:
    """``name[:port]`` or ``[v6]:port`` as a :class:`HostPort`; None when it is not one."""
    value = value.strip()
    if not value or any(c.isspace() or c in "/@\\?#" for c in value):
        return None
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else None
    elif value.count(":") > 1:
        return None  # an IPv6 address must come in brackets
    else:
        name, sep, port_text = value.partition(":")
        port_text = port_text if sep else None
    if port_text is not None and not (port_text.isascii() and port_text.isdigit() and int(port_text) <= 65535):
        return None
    name = name.lower().rstrip(".")
    if not name:
        return None
    return HostPort(name, int(port_text) if port_text is not None else None)


class AllowedHosts:
    """Loopback names and addresses, plus the configured names (ports never matter for the names)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = frozenset(n.strip().lower().rstrip(".") for n in names if n and n.strip())

    def allows_name(self, name: str) -> bool:
        return name in self.names or is_loopback(name)

    def allows_host(self, value: str | None) -> bool:
        """Whether a ``Host`` (or ``X-Forwarded-Host``) value names this dashboard."""
        parsed = split_host(value or "")
        return parsed is not None and self.allows_name(parsed.name)

    def allows_origin(self, origin: str, sent_to: Iterable[str]) -> bool:
        """Whether a browser ``Origin`` is this dashboard's own page.

        It must be ``http(s)://host[:port]`` with an allowed host, and that
        host and port must be one the request was sent to (``sent_to``: the
        ``Host`` and an ``X-Forwarded-Host``, each already allowed by the
        caller), so another local web app on another port is refused too.
        """
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or parts.path or parts.query or parts.fragment:
            return False
        found = split_host(parts.netloc)
        if found is None or not self.allows_name(found.name):
            return False
        default_port = 443 if parts.scheme == "https" else 80
        origin_at = (found.name, found.port or default_port)
        for value in sent_to:
            target = split_host(value)
            if target is not None and (target.name, target.port or default_port) == origin_at:
                return True
        return False
