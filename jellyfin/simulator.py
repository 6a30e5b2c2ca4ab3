"""A real HTTP/1.1 Jellyfin API simulator for the demo, tests and benchmarks.

Contract::

    sim = JellyfinSimulator(profile="mixed", seed=42, api_key="sim-api-key", host="127.0.0.1",
                            port=0, legacy_auth=True, item_count=200, rate_limit_per_second=20.0,
                            rate_limit_burst=10, shapes=None, version=None, latency_scale=1.0)
    sim.start() -> sim; sim.stop(); ``with JellyfinSimulator(...) as sim:``; sim.serve_forever()
    sim.url, sim.item_ids, sim.user_id, sim.api_key, sim.broken_item_ids, sim.shapes, sim.version
    sim.demo_item_ids(n, seed=None) -> list[str]; sim.stats() -> dict; sim.truth() -> dict
    sim.reset_stats()
    PROFILES == ("healthy", "flaky", "rate-limited", "bad-auth", "mixed", "proxy-outage", "key-revoked",
                 "body-stall", "body-drop", "headers-stall", "redirects", "large-images", "slow-images",
                 "dies-mid-job", "legacy-auth", "connection-close", "idle-drops")

Routes (as real Jellyfin 10.10 answers them; paths are case-insensitive):
``GET /System/Info/Public`` (no auth); ``GET|HEAD /Items/{id}/Images/Primary``
(no auth; 400 malformed id, 404 unknown, 200 PNG); ``GET /Items/{id}`` and
``GET /Users/{uid}/Items/{id}`` (auth: 401, then 400/404/200 item JSON);
``GET /Users/{uid}/Items`` (auth; ``StartIndex``/``Limit``);
``POST /Users/AuthenticateByName`` (returns the API key as ``AccessToken``).
With ``redirect_images``, ``GET|HEAD /cdn/posters/{id}.png`` serves the
posters the image route redirects to (route kind ``image``). Anything else is
404; a known path with the wrong method is 405.

``shapes`` (``shapes.Shapes``) layers real-world failure shapes on the
profile; the shape profiles (``proxy-outage``, ...) are presets of them on
``healthy``, and an explicit ``shapes=`` replaces a preset as a whole.
``version`` is what ``/System/Info/Public`` reports (10.10.7, or 10.7.7 with
``legacy_auth_only``). ``latency_scale`` multiplies the flaky and mixed
profiles' injected delays (0: the same faults, answered at once; tests use
it). ``truth()`` says what the shapes really did (keys in
``shapes.py``).

``stats()`` counts every request read (faults and unanswered ones included)
before any answer byte is sent, so a client can compare its own counts right
after a call: ``total``, ``by_status`` (``"none"`` when no status line was
sent), ``by_method``, ``by_route`` (image, item, user_item, user_items,
system_info, other) and ``requests`` (the newest 10 000 as
method/path/status/fault/seq; paths carry no query string, so no key).

The server binds to loopback only, speaks HTTP/1.1 keep-alive with a
Content-Length on every response, sends ``Server: Kestrel`` and never logs the
API key. Fault profiles live in ``profiles.py``, answers in ``replies.py``,
key parsing in ``auth.py``, counts in ``ledger.py``, items and posters in
``images.py``, byte delivery in ``http_server.py``.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from types import TracebackType
from typing import Any, Mapping

from .api import LEGACY_VERSION, VERSION, JellyfinApi, item_ref, route
from .http_server import SimulatorServer
from .images import Catalog
from .ledger import Ledger
from .profiles import PROFILES, FaultPolicy, profile_shapes, validate_profile
from .replies import Reply, proxy_502_reply, sign_in_page_reply
from .shapes import CONNECTION_CLOSE, PROXY_502, SIGN_IN_PAGE, ShapeState, Shapes

__all__ = ["JellyfinSimulator", "PROFILES", "Shapes"]

logger = logging.getLogger(__name__)


class JellyfinSimulator:
    """A Jellyfin server stand-in with deterministic items, fault profiles and failure shapes."""

    def __init__(self, profile: str = "healthy", seed: int = 42, api_key: str = "sim-api-key",
                 host: str = "127.0.0.1", port: int = 0, legacy_auth: bool = True, item_count: int = 200,
                 rate_limit_per_second: float = 20.0, rate_limit_burst: int = 10, shapes: Shapes | None = None,
                 version: str | None = None, latency_scale: float = 1.0) -> None:
        self.profile = validate_profile(profile)
        host = "127.0.0.1" if host == "localhost" else host
        try:
            loopback = ipaddress.IPv4Address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"The simulator only binds to an IPv4 loopback address such as 127.0.0.1, not {host!r}.")
        if shapes is not None and not isinstance(shapes, Shapes):
            raise ValueError(f"shapes must be a batch_debug.jellyfin.shapes.Shapes or None, not {shapes!r}.")
        self.shapes: Shapes = profile_shapes(profile) if shapes is None else shapes
        if self.shapes.legacy_auth_only and not legacy_auth:
            raise ValueError("legacy_auth=False contradicts shapes.legacy_auth_only, which takes only the legacy "
                             "forms.")
        if version is not None and not version.strip():
            raise ValueError("version must be a non-empty string such as '10.8.13', or None.")
        self.version = version or (LEGACY_VERSION if self.shapes.legacy_auth_only else VERSION)
        self._reports_version = version is not None or self.shapes.legacy_auth_only
        self.seed, self.api_key, self.host, self.legacy_auth = seed, api_key, host, legacy_auth
        self._port = port
        self._policy = FaultPolicy(profile, seed, rate_limit_per_second, rate_limit_burst, latency_scale)
        self._catalog = Catalog(seed, item_count)
        self.user_id, self.server_id = self._catalog.user_id, self._catalog.server_id
        self._state = ShapeState(self.shapes)
        self._ledger = Ledger()
        self._api = JellyfinApi(self._catalog, self._policy, self._state, self.shapes, seed, api_key, legacy_auth,
                                self.version, lambda: self.url)
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------
    def _bind(self) -> SimulatorServer:
        with self._lifecycle:
            if self._server is None:
                self._server = SimulatorServer((self.host, self._port), self)
                self._port = self._server.server_address[1]
                logger.info("Jellyfin simulator (%s profile; shapes: %s) listening on %s", self.profile,
                            ", ".join(self.shapes.active()) or "none", self.url)
            return self._server

    def bind(self) -> JellyfinSimulator:
        """Take the port now (OSError if it cannot be had), without serving yet: ``url`` then holds the real port."""
        self._bind()
        return self

    def start(self) -> JellyfinSimulator:
        server = self._bind()
        if self._thread is None:
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"jellyfin-sim-{self._port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until Ctrl-C (or ``stop()`` from another thread).

        A server that died (``die_after``) keeps its open connections (their
        requests are dropped) until Ctrl-C or ``stop()``.
        """
        server = self._bind()
        try:
            server.serve_forever(poll_interval=0.2)
            if server.dead.is_set() and not server.stopping.is_set():
                logger.warning("Jellyfin simulator died after %s requests as configured; Ctrl-C exits",
                               self.shapes.die_after)
                while not server.stopping.wait(0.5):  # short waits keep Ctrl-C responsive
                    pass
        except KeyboardInterrupt:
            logger.info("Jellyfin simulator interrupted; shutting down")
        finally:
            self._close(server)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.stopping.set()  # first, so stalls and slow bodies end now
        server.shutdown()  # returns once serve_forever's loop has ended (at once if it died)
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

    # -- stats and ground truth --------------------------------------------------------
    def reset_stats(self) -> None:
        """Zero stats and truth, and restart request numbers and key uses (a dead server stays dead)."""
        self._ledger.reset()
        self._state.reset()

    def stats(self) -> dict[str, Any]:
        return self._ledger.stats()

    def truth(self) -> dict[str, Any]:
        """What the shapes really did (keys documented in ``shapes.py``; {} with no shapes)."""
        return self._ledger.truth(self.shapes, self._state.key_uses, self._state.dead,
                                  self.version if self._reports_version else None)

    def record(self, method: str, path: str, kind: str, reply: Reply) -> None:
        """Count one request read (called by the HTTP handler before it sends anything)."""
        self._ledger.record(method, path, kind, reply)

    # -- request handling ------------------------------------------------------------
    def respond(self, method: str, path: str, raw_query: str, headers: Mapping[str, str], body: bytes,
                reused: bool = False) -> tuple[str, Reply]:
        """The answer to one request: the front (death, idle drops, proxy outage, sign-in page), then Jellyfin."""
        kind, match, methods = route(path, self.shapes.redirect_images)
        ticket = self._state.arrive(counted=kind != "system_info", reused=reused)
        if ticket.fault == PROXY_502:
            reply = proxy_502_reply()
        elif ticket.fault == SIGN_IN_PAGE:
            reply = sign_in_page_reply()
        elif ticket.fault is not None:
            reply = Reply(None, fault=ticket.fault)
        else:
            reply = self._api.answer(kind, match, methods, method, raw_query, headers, body)
        proxy = self.shapes.behind_proxy
        if proxy is not None and reply.status is not None:
            reply.server = proxy
            reply.headers["Via"] = f"1.1 {proxy.split('/')[0]}"
        if self.shapes.connection_close and reply.status is not None:
            reply.close = True
            reply.fault = reply.fault or CONNECTION_CLOSE
        reply.seq, reply.item_id, reply.kill_server = ticket.seq, item_ref(kind, match), ticket.kills
        return ("image" if kind == "cdn" else kind), reply
