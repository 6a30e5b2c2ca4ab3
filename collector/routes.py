"""Jellyfin route templates: ``/Items/0123...cdef/Images/Primary`` -> ``/Items/{itemId}/Images/{imageType}``.

Usage::

    route_of("http://jf:8096/jellyfin/Items/0a1b.../Images/Primary?ApiKey=...")
    # '/Items/{itemId}/Images/{imageType}'
    needs_auth(route)   # False: Jellyfin serves images without a key
    url_template("/jellyfin/Items/0a1b.../Images/Primary")   # '/Items/{itemId}/Images/Primary'
    url_template("/some/thing/else")                         # None: not a Jellyfin route we know

Findings group attempts by what they asked for, not by which item; and an
answer only says something about the API key on a route that needs one.
Known routes come from Jellyfin's controllers; other paths keep their
shape with id-like segments (GUIDs, numbers) replaced by ``{id}``. A base
path in front (``/jellyfin``) is ignored. Pure functions, cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

#: A scheme's port when a URL names none (``server.port`` says it all the same, as the conventions want).
DEFAULT_PORTS = {"http": 80, "https": 443}

_ID = r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SEG = r"[^/]+"
#: (template, pattern, needs a key). Order matters: the first match wins, so a route comes before
#: any shorter one it ends with (``/Users/{userId}/Items/{itemId}`` before ``/Items/{itemId}``).
_KNOWN: tuple[tuple[str, str, bool], ...] = (
    ("/System/Info/Public", r"/System/Info/Public", False),
    ("/System/Ping", r"/System/Ping", False),
    ("/Users/AuthenticateByName", r"/Users/AuthenticateByName", False),
    ("/Items/{itemId}/Images/{imageType}", rf"/Items/{_SEG}/Images/{_SEG}(?:/{_SEG})?", False),
    ("/Users/{userId}/Items/{itemId}", rf"/Users/{_SEG}/Items/{_SEG}", True),
    ("/Users/{userId}/Items", rf"/Users/{_SEG}/Items", True),
    ("/Items/{itemId}", rf"/Items/{_SEG}", True),
    ("/Items", r"/Items", True),
    ("/System/Info", r"/System/Info", True),
)
# One pattern for all known routes (the first alternative that matches wins, as in the list).
_ANY = re.compile("|".join(rf"(?:^|.*?)(?P<r{i}>{pattern})/?$" for i, (_, pattern, _) in enumerate(_KNOWN)),
                  re.IGNORECASE)
_ID_SEGMENT = re.compile(rf"^(?:{_ID}|\d+)$")
_ANONYMOUS = frozenset(template for template, _, auth in _KNOWN if not auth)
_MAX_PATH = 512


@lru_cache(maxsize=4096)
def _template(path: str) -> str:
    match = _ANY.match(path)
    if match is not None:
        return _KNOWN[int(match.lastgroup[1:])][0]  # type: ignore[index]
    parts = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return "/".join(parts)[:_MAX_PATH] or "/"


def route_of(url: str) -> str:
    """The route template of a URL (or path)."""
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    return _template(path or "/")


#: Jellyfin's image types (``ImageType``): few, so a span name may keep the one asked for.
_IMAGE_TYPES = frozenset({"Primary", "Art", "Backdrop", "Banner", "Logo", "Thumb", "Disc", "Box", "Screenshot",
                          "Menu", "Chapter", "BoxRear", "Profile"})


def _image_template(path: str) -> str | None:
    """The image route's template without the regex (a few times faster; every poster asks it), or None."""
    parts = path[:-1].split("/") if path.endswith("/") else path.split("/")
    # The longer form first: the regex's lazy prefix makes the earliest (longest) match win.
    if len(parts) >= 6 and parts[-3].lower() == "images" and parts[-5].lower() == "items" and parts[-1]:
        kind, indexed = parts[-2], True
    elif len(parts) >= 5 and parts[-2].lower() == "images" and parts[-4].lower() == "items":
        kind, indexed = parts[-1], False
    else:
        return None
    if not kind or not parts[-3 - indexed]:
        return None
    kind = kind if kind in _IMAGE_TYPES else "{imageType}"
    return f"/Items/{{itemId}}/Images/{kind}" + ("/{imageIndex}" if indexed else "")


@lru_cache(maxsize=4096)
def _url_template(path: str) -> str | None:
    found = _image_template(path)
    if found is not None:
        return found
    match = _ANY.match(path)
    if match is None:
        return None
    # Never the image route: _image_template answers every path the regex would match as one.
    return _KNOWN[int(match.lastgroup[1:])][0]  # type: ignore[index]


def url_template(path: str) -> str | None:
    """The semantic-convention ``url.template`` of a request path: a known Jellyfin route, or None.

    Unlike :func:`route_of` an unknown path gets no guessed template (the
    conventions want a span named by its method alone then), and an image
    route keeps a known image type (``/Items/{itemId}/Images/Primary``): a
    handful of values, and what a reader of a trace wants to see. A base
    path in front is left out, as for routes.
    """
    return _url_template(path or "/")


def needs_auth(route: str | None) -> bool | None:
    """Whether Jellyfin wants a key on this route: True, False, or None when the route is unknown to us."""
    if route is None:
        return None
    if route in _ANONYMOUS:
        return False
    return True if any(route == template for template, _, _ in _KNOWN) else None
