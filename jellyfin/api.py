"""The Jellyfin API the simulator answers: routes, auth, items and posters.

Contract (used by ``simulator.py``):

- ``route(path, cdn) -> (kind, match, methods)``: the route kind of a path
  (``other`` with no match when none fits; the ``cdn`` poster route exists
  only when ``cdn`` is true); ``item_ref(kind, match)``: the item a request
  names (for the ground truth).
- ``JellyfinApi(...).answer(kind, match, methods, method, raw_query, headers,
  body) -> Reply``: what Jellyfin (as 10.10 answers) sends, with the profile's
  faults and the shapes that act inside Jellyfin (key revocation, redirects,
  sized and paced posters, body stalls and drops, lookup stalls, legacy-only
  auth, the reported version). The shapes that act in front of Jellyfin
  (proxy outage, idle drops, death) are the simulator's.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Callable, Mapping
from urllib.parse import parse_qsl, unquote

from .auth import request_token
from .images import Catalog, poster
from .profiles import FaultPolicy, fault_reply
from .replies import Reply, bad_value_reply, json_reply, not_found_reply, text_reply
from .shapes import BODY_DROP, BODY_STALL, HEADERS_STALL, REDIRECT, REVOKED_401, ShapeState, Shapes, selects

logger = logging.getLogger(__name__)

SERVER_NAME = "batch-debug-sim"
VERSION = "10.10.7"
LEGACY_VERSION = "10.7.7"  # what a legacy_auth_only server reports unless given version=

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_DASHED = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ROUTES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("system_info", re.compile(r"^/System/Info/Public$", re.I), ("GET",)),
    ("image", re.compile(r"^/Items/([^/]+)/Images/Primary$", re.I), ("GET", "HEAD")),
    ("item", re.compile(r"^/Items/([^/]+)$", re.I), ("GET",)),
    ("authenticate", re.compile(r"^/Users/AuthenticateByName$", re.I), ("POST",)),
    ("user_items", re.compile(r"^/Users/([^/]+)/Items$", re.I), ("GET",)),
    ("user_item", re.compile(r"^/Users/([^/]+)/Items/([^/]+)$", re.I), ("GET",)),
    ("cdn", re.compile(r"^/cdn/posters/([^/]+)\.png$", re.I), ("GET", "HEAD")),
)
_ITEM_GROUP = {"image": 1, "cdn": 1, "item": 1, "user_item": 2}  # which path group names the item


def parse_guid(raw: str) -> str | None:
    """Normalise a Jellyfin GUID (32 hex chars, or dashed 8-4-4-4-12) to 32 lowercase hex; None if malformed."""
    if _HEX32.match(raw) or _DASHED.match(raw):
        return raw.replace("-", "").lower()
    return None


def route(path: str, cdn: bool) -> tuple[str, re.Match[str] | None, tuple[str, ...]]:
    """(route kind, match, allowed methods) of a path; ``cdn`` says whether the poster CDN route exists."""
    trimmed = path.rstrip("/") or "/"
    for kind, pattern, methods in _ROUTES:
        match = pattern.match(trimmed)
        if match and (cdn or kind != "cdn"):
            return kind, match, methods
    return "other", None, ()


def item_ref(kind: str, match: re.Match[str] | None) -> str | None:
    """The item a request names (normalised id, or the raw segment when malformed), for the ground truth."""
    if match is None or kind not in _ITEM_GROUP:
        return None
    raw = unquote(match.group(_ITEM_GROUP[kind]))
    return parse_guid(raw) or raw


class JellyfinApi:
    """Answers routed requests as Jellyfin would, with the profile's faults and the shapes inside Jellyfin."""

    def __init__(self, catalog: Catalog, policy: FaultPolicy, state: ShapeState, shapes: Shapes, seed: int,
                 api_key: str, legacy_auth: bool, version: str, url: Callable[[], str]) -> None:
        self._catalog, self._policy, self._state, self.shapes = catalog, policy, state, shapes
        self.seed, self.api_key, self.legacy_auth, self.version, self._url = seed, api_key, legacy_auth, version, url
        self.user_id, self.server_id = catalog.user_id, catalog.server_id

    def answer(self, kind: str, match: re.Match[str] | None, methods: tuple[str, ...], method: str,
               raw_query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Jellyfin's answer to a routed request (called on the handler thread; thread-safe)."""
        admitted = self._policy.admit()
        if admitted.status is not None:
            return fault_reply(admitted, "")
        if match is None:
            return Reply(404)
        if method not in methods:
            return Reply(405, headers={"Allow": ", ".join(methods)})
        query: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(name.lower(), value)  # Jellyfin matches query names case-insensitively
        args = [unquote(g) for g in match.groups()]
        if kind == "system_info":
            return json_reply(200, {"LocalAddress": self._url(), "ServerName": SERVER_NAME, "Version": self.version,
                                    "ProductName": "Jellyfin Server", "OperatingSystem": "Linux",
                                    "Id": self.server_id, "StartupWizardCompleted": True})
        if kind in ("image", "cdn"):
            return self._item_reply(kind, method, args[0])
        if kind == "authenticate":
            return self._authenticate(body)
        refused = self._refuse(headers, query)
        if refused is not None:
            return refused
        if kind == "item":
            return self._item_reply(kind, method, args[0])
        user = parse_guid(args[0])
        if user is None:
            return bad_value_reply("userId", args[0])
        if user != self.user_id:
            return not_found_reply()
        if kind == "user_item":
            return self._item_reply(kind, method, args[1])
        return self._list_items(query)

    def _refuse(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Reply | None:
        """The 401 for a request without the valid (and not yet revoked) key; None lets it through."""
        token = request_token(headers, query, self.legacy_auth, self.shapes.legacy_auth_only)
        if not token or self._policy.rejects_all_keys or not hmac.compare_digest(token.encode(),
                                                                                 self.api_key.encode()):
            return text_reply(401, "Unauthorized")
        if not self._state.use_key():
            reply = text_reply(401, "Unauthorized")  # a deleted key looks like any unknown key
            reply.fault = REVOKED_401
            return reply
        return None

    def _item_reply(self, kind: str, method: str, raw_id: str) -> Reply:
        item_id = parse_guid(raw_id)
        if item_id is None:
            return bad_value_reply("itemId", raw_id)
        index = self._catalog.index.get(item_id)
        if index is None:
            return not_found_reply()
        if kind == "image" and self.shapes.redirect_images:
            return Reply(302, headers={"Location": f"/cdn/posters/{item_id}.png"}, fault=REDIRECT)
        kind = "image" if kind == "cdn" else kind  # the CDN serves what the image route would have
        fault = self._policy.decide(kind, method, item_id, index)
        if fault.status is not None:
            return fault_reply(fault, item_id)
        reply = self._poster_reply(method, item_id, index) if kind == "image" else self._lookup_reply(item_id, index)
        reply.delay_s = fault.delay_s
        return reply

    def _poster_reply(self, method: str, item_id: str, index: int) -> Reply:
        shapes = self.shapes
        reply = Reply(200, poster(self.seed, item_id, shapes.image_bytes), "image/png", {"Cache-Control": "public"},
                      rate=shapes.image_rate)
        if method == "GET" and selects(shapes.body_stall_every, index):
            reply.cut, reply.stall_s, reply.fault = "stall", shapes.stall_seconds, BODY_STALL
        elif method == "GET" and selects(shapes.body_drop_every, index):
            reply.cut, reply.fault = "drop", BODY_DROP
        return reply

    def _lookup_reply(self, item_id: str, index: int) -> Reply:
        if selects(self.shapes.headers_stall_every, index):
            return Reply(None, stall_s=self.shapes.stall_seconds, fault=HEADERS_STALL)
        return json_reply(200, self._catalog.item_json(item_id))  # carries no key: nothing secret to echo

    def _list_items(self, query: Mapping[str, str]) -> Reply:
        try:
            start = max(0, int(query.get("startindex") or 0))
        except ValueError:
            return bad_value_reply("startIndex", query["startindex"])
        try:
            limit = int(query["limit"]) if query.get("limit") else len(self._catalog.item_ids)
        except ValueError:
            return bad_value_reply("limit", query["limit"])
        page = self._catalog.item_ids[start:start + max(0, limit)]
        return json_reply(200, {"Items": [self._catalog.item_json(i) for i in page],
                                "TotalRecordCount": len(self._catalog.item_ids), "StartIndex": start})

    def _authenticate(self, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("Username"), str):
            return bad_value_reply("request", "body")
        if self._policy.rejects_all_keys:
            return text_reply(401, "Unauthorized")
        return json_reply(200, {"User": {"Name": payload["Username"], "Id": self.user_id, "ServerId": self.server_id},
                                "SessionInfo": {"UserId": self.user_id, "ServerId": self.server_id},
                                "AccessToken": self.api_key, "ServerId": self.server_id})
