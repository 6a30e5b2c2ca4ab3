"""A real HTTP/1.1 Jellyfin API simulator for the demo, tests and benchmarks.

Contract::

    sim = JellyfinSimulator(profile="mixed", seed=42, api_key="sim-api-key", host="127.0.0.1",
                            port=0, legacy_auth=True, item_count=200, rate_limit_per_second=20.0,
                            rate_limit_burst=10)
    sim.start() -> sim; sim.stop(); ``with JellyfinSimulator(...) as sim:``; sim.serve_forever()
    sim.url, sim.item_ids, sim.user_id, sim.api_key, sim.broken_item_ids
    sim.demo_item_ids(n, seed=None) -> list[str]; sim.stats() -> dict; sim.reset_stats()
    PROFILES == ("healthy", "flaky", "rate-limited", "bad-auth", "mixed")

Routes (as real Jellyfin 10.10 answers them; paths are case-insensitive):
``GET /System/Info/Public`` (no auth); ``GET|HEAD /Items/{id}/Images/Primary``
(no auth; 400 malformed id, 404 unknown, 200 PNG); ``GET /Items/{id}`` and
``GET /Users/{uid}/Items/{id}`` (auth: 401, then 400/404/200 item JSON);
``GET /Users/{uid}/Items`` (auth; ``StartIndex``/``Limit``);
``POST /Users/AuthenticateByName`` (returns the API key as ``AccessToken``).
Anything else is 404; a known path with the wrong method is 405.

``stats()`` counts every answered request (faults included) before it is
sent, so a client can compare its own counts right after a call: ``total``,
``by_status``, ``by_method``, ``by_route`` (image, item, user_item,
user_items, system_info, other) and ``requests`` (the newest 10 000 as
method/path/status; paths carry no query string, so no key).

The server binds to loopback only, speaks HTTP/1.1 keep-alive with a
Content-Length on every response, sends ``Server: Kestrel`` and never logs the
API key. Fault injection and error bodies live in ``profiles.py``; items and
posters in ``images.py``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import threading
from collections import Counter, deque
from types import TracebackType
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, unquote

from .http_server import SimulatorServer
from .images import Catalog, poster_png
from .profiles import (PROFILES, FaultPolicy, Reply, bad_value_reply, fault_reply, json_reply, not_found_reply,
                       text_reply, validate_profile)

__all__ = ["JellyfinSimulator", "PROFILES"]

logger = logging.getLogger(__name__)

SERVER_NAME = "batch-debug-sim"
VERSION = "10.10.7"
RECENT_REQUESTS = 10_000  # stats()["requests"] keeps the newest this many; "total" counts all
ROUTE_KINDS = ("image", "item", "user_item", "user_items", "system_info", "other")

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_DASHED = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_AUTH_SCHEME = re.compile(r"^\s*(?:MediaBrowser|Emby)\s+(.*)$", re.IGNORECASE | re.DOTALL)
_AUTH_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,]*))\s*(?:,|$)')
_ROUTES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("system_info", re.compile(r"^/System/Info/Public$", re.I), ("GET",)),
    ("image", re.compile(r"^/Items/([^/]+)/Images/Primary$", re.I), ("GET", "HEAD")),
    ("item", re.compile(r"^/Items/([^/]+)$", re.I), ("GET",)),
    ("authenticate", re.compile(r"^/Users/AuthenticateByName$", re.I), ("POST",)),
    ("user_items", re.compile(r"^/Users/([^/]+)/Items$", re.I), ("GET",)),
    ("user_item", re.compile(r"^/Users/([^/]+)/Items/([^/]+)$", re.I), ("GET",)),
)


def _parse_guid(raw: str) -> str | None:
    """Normalise a Jellyfin GUID (32 hex chars, or dashed 8-4-4-4-12) to 32 lowercase hex; None if malformed."""
    if _HEX32.match(raw) or _DASHED.match(raw):
        return raw.replace("-", "").lower()
    return None


def _token_from_auth_header(value: str | None) -> str | None:
    """The ``Token`` field of a ``MediaBrowser``/``Emby`` authorization header (field names any case)."""
    match = _AUTH_SCHEME.match(value or "")
    if not match:
        return None
    for param in _AUTH_PARAM.finditer(match.group(1)):
        if param.group(1).lower() == "token":
            raw = param.group(2) if param.group(2) is not None else param.group(3).strip()
            return unquote(raw) or None  # Jellyfin URL-decodes header values
    return None


class JellyfinSimulator:
    """A Jellyfin server stand-in with deterministic items and fault profiles."""

    def __init__(self, profile: str = "healthy", seed: int = 42, api_key: str = "sim-api-key",
                 host: str = "127.0.0.1", port: int = 0, legacy_auth: bool = True, item_count: int = 200,
                 rate_limit_per_second: float = 20.0, rate_limit_burst: int = 10) -> None:
        self.profile = validate_profile(profile)
        host = "127.0.0.1" if host == "localhost" else host
        try:
            loopback = ipaddress.IPv4Address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"The simulator only binds to an IPv4 loopback address such as 127.0.0.1, not {host!r}.")
        self.seed, self.api_key, self.host, self.legacy_auth = seed, api_key, host, legacy_auth
        self._port = port
        self._policy = FaultPolicy(profile, seed, rate_limit_per_second, rate_limit_burst)
        self._catalog = Catalog(seed, item_count)
        self.user_id, self.server_id = self._catalog.user_id, self._catalog.server_id
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._stats_lock = threading.Lock()
        self.reset_stats()

    # -- lifecycle -----------------------------------------------------------------
    def _bind(self) -> SimulatorServer:
        with self._lifecycle:
            if self._server is None:
                self._server = SimulatorServer((self.host, self._port), self)
                self._port = self._server.server_address[1]
                logger.info("Jellyfin simulator (%s profile) listening on %s", self.profile, self.url)
            return self._server

    def start(self) -> JellyfinSimulator:
        server = self._bind()
        if self._thread is None:
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"jellyfin-sim-{self._port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl-C (or ``stop()`` from another thread)."""
        server = self._bind()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            logger.info("Jellyfin simulator interrupted; shutting down")
        finally:
            self._close(server)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()  # returns once serve_forever's loop has ended (works before it started, too)
        if thread is not None:
            thread.join(timeout=5)
        self._close(server)

    def _close(self, server: SimulatorServer) -> None:
        with self._lifecycle:
            if self._server is server:
                server.close_connections()
                server.server_close()
                self._server, self._thread = None, None

    def __enter__(self) -> JellyfinSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- public data -----------------------------------------------------------------
    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("The simulator has no port yet; call start() first.")
        return f"http://{self.host}:{self._port}"

    @property
    def item_ids(self) -> list[str]:
        return list(self._catalog.item_ids)

    @property
    def broken_item_ids(self) -> list[str]:
        """Items that answer 500 on every attempt (the mixed profile's every 25th item)."""
        return [i for n, i in enumerate(self._catalog.item_ids) if self._policy.is_persistently_broken(n)]

    def demo_item_ids(self, n: int, seed: int | None = None) -> list[str]:
        """~80% known, ~10% unknown (404), ~10% malformed (400) ids, shuffled, deterministic.

        With n >= 5 there is at least one of each kind, and under ``mixed`` at
        least one persistently broken item, so a demo always shows every failure.
        """
        return self._catalog.demo_ids(n, self.seed if seed is None else seed, self.broken_item_ids)

    # -- stats -------------------------------------------------------------------------
    def reset_stats(self) -> None:
        with self._stats_lock:
            self._total = 0
            self._by_status: Counter[str] = Counter()
            self._by_method: Counter[str] = Counter()
            self._by_route: Counter[str] = Counter({k: 0 for k in ROUTE_KINDS})
            self._requests: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {"total": self._total, "by_status": dict(self._by_status), "by_method": dict(self._by_method),
                    "by_route": dict(self._by_route), "requests": [dict(r) for r in self._requests]}

    def record(self, method: str, path: str, kind: str, status: int) -> None:
        kind = kind if kind in ROUTE_KINDS else "other"
        with self._stats_lock:
            self._total += 1
            self._by_status[str(status)] += 1
            self._by_method[method] += 1
            self._by_route[kind] += 1
            self._requests.append({"method": method, "path": path, "status": status})

    # -- request handling ------------------------------------------------------------
    def _authorized(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        # Jellyfin takes the first token it finds, in this order, and checks only that one.
        token = _token_from_auth_header(headers.get("Authorization"))
        if token is None and self.legacy_auth:
            token = _token_from_auth_header(headers.get("X-Emby-Authorization"))
        token = token or query.get("apikey")
        if not token and self.legacy_auth:
            token = headers.get("X-Emby-Token") or headers.get("X-MediaBrowser-Token") or query.get("api_key")
        if not token or self._policy.rejects_all_keys:
            return False
        return hmac.compare_digest(token.encode(), self.api_key.encode())

    def respond(self, method: str, path: str, raw_query: str, headers: Mapping[str, str],
                 body: bytes) -> tuple[str, Reply]:
        trimmed = path.rstrip("/") or "/"
        for kind, pattern, methods in _ROUTES:
            match = pattern.match(trimmed)
            if match:
                break
        else:
            kind, match, methods = "other", None, ()
        admitted = self._policy.admit()
        if admitted.status is not None:
            return kind, fault_reply(admitted, "")
        if match is None:
            return kind, Reply(404)
        if method not in methods:
            return kind, Reply(405, headers={"Allow": ", ".join(methods)})
        query: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(name.lower(), value)  # Jellyfin matches query names case-insensitively
        args = [unquote(g) for g in match.groups()]
        if kind == "system_info":
            return kind, json_reply(200, {"LocalAddress": self.url, "ServerName": SERVER_NAME, "Version": VERSION,
                                          "ProductName": "Jellyfin Server", "OperatingSystem": "Linux",
                                          "Id": self.server_id, "StartupWizardCompleted": True})
        if kind == "image":
            return kind, self._item_reply(kind, method, args[0], self._image_reply)
        if kind == "authenticate":
            return kind, self._authenticate(body)
        if not self._authorized(headers, query):
            return kind, text_reply(401, "Unauthorized")
        if kind == "item":
            return kind, self._item_reply(kind, method, args[0], self._item_json_reply)
        user = _parse_guid(args[0])
        if user is None:
            return kind, bad_value_reply("userId", args[0])
        if user != self.user_id:
            return kind, not_found_reply()
        if kind == "user_item":
            return kind, self._item_reply(kind, method, args[1], self._item_json_reply)
        return kind, self._list_items(query)

    def _item_reply(self, kind: str, method: str, raw_id: str, ok: Callable[[str], Reply]) -> Reply:
        item_id = _parse_guid(raw_id)
        if item_id is None:
            return bad_value_reply("itemId", raw_id)
        index = self._catalog.index.get(item_id)
        if index is None:
            return not_found_reply()
        fault = self._policy.decide(kind, method, item_id, index)
        if fault.status is not None:
            return fault_reply(fault, item_id)
        reply = ok(item_id)
        reply.delay_s = fault.delay_s
        return reply

    def _image_reply(self, item_id: str) -> Reply:
        return Reply(200, poster_png(self.seed, item_id), "image/png", {"Cache-Control": "public"})

    def _item_json_reply(self, item_id: str) -> Reply:
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
