"""Failure shapes of the Jellyfin simulator: what a plain httpx client sees, and that truth() agrees.

Every test starts a real simulator on loopback; stalls are short and client
timeouts shorter, so the file runs in a few seconds.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from batch_debug.jellyfin import profiles, shapes as shapes_module
from batch_debug.jellyfin.images import HEIGHT, PNG_SIGNATURE, WIDTH, poster_png
from batch_debug.jellyfin.replies import NGINX_MESSAGE
from batch_debug.jellyfin.shapes import FAULT_NAMES, Shapes
from batch_debug.jellyfin.simulator import JellyfinSimulator

KEY = "sim-api-key"
MIB = 1 << 20
PRESETS: dict[str, dict[str, Any]] = {
    "proxy-outage": {"proxy_outage": (10, 20)},
    "key-revoked": {"revoke_key_after": 12},
    "body-stall": {"body_stall_every": 7, "stall_seconds": 3.0},
    "body-drop": {"body_drop_every": 7},
    "headers-stall": {"headers_stall_every": 9, "stall_seconds": 3.0},
    "redirects": {"redirect_images": True},
    "large-images": {"image_bytes": 5 * MIB},
    "slow-images": {"image_bytes": 5 * MIB, "image_rate": MIB},
    "dies-mid-job": {"die_after": 30},
    "legacy-auth": {"legacy_auth_only": True},
    "connection-close": {"connection_close": True},
    "idle-drops": {"idle_drop_every": 5},
}


@contextmanager
def shaped(timeout: float = 2.0, profile: str = "healthy",
           **shape_args: Any) -> Iterator[tuple[JellyfinSimulator, httpx.Client]]:
    """A started simulator with ``Shapes(**shape_args)`` and an httpx client on it."""
    with JellyfinSimulator(profile=profile, api_key=KEY, shapes=Shapes(**shape_args)) as sim, \
            httpx.Client(base_url=sim.url, timeout=timeout) as client:
        yield sim, client


def _image(item_id: str) -> str:
    return f"/Items/{item_id}/Images/Primary"


def _outcome(call: Callable[[], httpx.Response]) -> int | str:
    """The status code, or the name of the exception the client raised."""
    try:
        return call().status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


def _seen(sim: JellyfinSimulator) -> list[tuple[Any, Any, Any]]:
    return [(r["status"], r["fault"], r["seq"]) for r in sim.stats()["requests"]]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


# -- configuration and profiles ---------------------------------------------------


def test_no_shapes_by_default_and_truth_is_empty() -> None:
    with shaped() as (sim, client):
        assert sim.shapes == Shapes() and sim.truth() == {}
        assert client.get("/System/Info/Public").json()["Version"] == "10.10.7"
        assert client.get(_image(sim.item_ids[0])).status_code == 200
        assert sim.truth() == {}


@pytest.mark.parametrize("bad", [{"body_stall_every": 0}, {"die_after": 0}, {"proxy_outage": (-1, 3)},
                                 {"proxy_outage": (0, 0)}, {"image_bytes": 10}, {"stall_seconds": 0},
                                 {"idle_drop_every": True}, {"revoke_key_after": -1}])
def test_invalid_shapes_raise_a_sentence(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as err:
        Shapes(**bad)
    assert str(err.value).startswith("Shapes.") and str(err.value).endswith(".")


@pytest.mark.parametrize("name", list(PRESETS))
def test_shape_profiles_are_documented_presets_on_healthy(name: str) -> None:
    sim = JellyfinSimulator(profile=name)
    assert sim.shapes == Shapes(**PRESETS[name])
    assert sim.broken_item_ids == []  # healthy underneath
    assert name in profiles.PROFILES and f"``{name}``" in (profiles.__doc__ or "")
    assert JellyfinSimulator(profile=name, shapes=Shapes()).shapes == Shapes()  # explicit shapes win


def test_fault_names_and_truth_keys_are_documented() -> None:
    everything = Shapes(proxy_outage=(0, 1), revoke_key_after=1, body_stall_every=1, body_drop_every=1,
                        headers_stall_every=1, redirect_images=True, image_bytes=2048, image_rate=10_000,
                        die_after=5, legacy_auth_only=True, connection_close=True, idle_drop_every=3)
    truth = JellyfinSimulator(shapes=everything, version="10.8.13").truth()
    assert list(truth) == ["proxy_502", "revoked", "body_stall", "body_drop", "headers_stall", "redirects",
                           "image_bytes", "image_rate", "died", "idle_drop", "connection_close", "legacy_auth_only",
                           "version"]
    keys = set(truth) | {k for v in truth.values() if isinstance(v, dict) for k in v}
    doc = shapes_module.__doc__ or ""
    assert [k for k in keys if f'"{k}"' not in doc] == []
    assert [name for name in FAULT_NAMES if f'"{name}"' not in doc] == []


# -- one test per shape -----------------------------------------------------------


def test_proxy_outage_answers_an_nginx_page_for_its_window() -> None:
    with shaped(proxy_outage=(2, 3)) as (sim, client):
        ids = sim.item_ids
        codes = []
        for n in range(6):
            if n == 3:  # client libraries probe this on their own: not numbered, never proxied away
                probe = client.get("/System/Info/Public")
                assert (probe.status_code, probe.headers["server"]) == (200, "Kestrel")
            codes.append(client.get(_image(ids[n])))
        assert [r.status_code for r in codes] == [200, 200, 502, 502, 502, 200]
        page = codes[2]
        assert page.headers["server"] == "nginx/1.25.3" and page.headers["content-type"] == "text/html"
        html = page.text
        assert 2500 < len(page.content) < 4000
        assert html.index("<style>") < 200 and html.index("</style>") - html.index("<style>") > 2048
        for marker in ("<title>502 Bad Gateway</title>", "<h1>502 Bad Gateway</h1>", NGINX_MESSAGE):
            assert html.index(marker) > 2048, marker
        assert "<hr><center>nginx/1.25.3</center>" in html and "<script>" in html
        assert codes[5].headers["server"] == "Kestrel"
        assert sim.truth() == {"proxy_502": {"window": [2, 4], "answered": 3, "first_request": 2,
                                             "last_request": 4, "item_ids": ids[2:5]}}
        assert _seen(sim) == [(200, None, 0), (200, None, 1), (502, "proxy_502", 2), (200, None, None),
                              (502, "proxy_502", 3), (502, "proxy_502", 4), (200, None, 5)]


def test_key_revoked_after_n_authenticated_requests() -> None:
    forms = [({"Authorization": f'MediaBrowser Token="{KEY}"'}, {}), ({}, {"ApiKey": KEY}),
             ({"X-Emby-Token": KEY}, {}), ({}, {"api_key": KEY})]
    with shaped(revoke_key_after=3) as (sim, client):
        item = sim.item_ids[0]
        assert client.get(f"/Items/{item}", params={"ApiKey": "wrong"}).status_code == 401  # not a use of the key
        before = [client.get(f"/Items/{item}", headers=h, params=p).status_code for h, p in forms[:3]]
        after = [client.get(f"/Users/{sim.user_id}/Items/{item}", headers=h, params=p) for h, p in forms]
        assert before == [200, 200, 200]
        assert [r.status_code for r in after] == [401] * 4 and all(r.text == "Unauthorized" for r in after)
        assert client.get(_image(item)).status_code == 200  # images need no key
        assert sim.truth() == {"revoked": {"after": 3, "accepted_before": 3, "rejected_after": 4}}
        faults = [r["fault"] for r in sim.stats()["requests"]]
        assert faults == [None, None, None, None] + ["revoked_401"] * 4 + [None]


def test_body_stall_sends_headers_and_half_the_body_then_goes_silent() -> None:
    with shaped(timeout=0.3, body_stall_every=3, stall_seconds=1.0) as (sim, client):
        stalled = sim.item_ids[2]
        full = len(poster_png(sim.seed, stalled))
        assert client.get(_image(sim.item_ids[0])).status_code == 200
        received = bytearray()
        with client.stream("GET", _image(stalled)) as response:
            assert response.status_code == 200 and response.headers["content-length"] == str(full)
            with pytest.raises(httpx.ReadTimeout):
                for chunk in response.iter_raw():
                    received += chunk
        assert len(received) == full // 2
        assert client.head(_image(stalled)).headers["content-length"] == str(full)  # HEAD has no body to stall
        assert sim.truth() == {"body_stall": {"every": 3, "seconds": 1.0, "count": 1, "item_ids": [stalled]}}
        assert _seen(sim) == [(200, None, 0), (200, "body_stall", 1), (200, None, 2)]


def test_body_drop_closes_the_connection_half_way() -> None:
    with shaped(body_drop_every=2) as (sim, client):
        dropped = sim.item_ids[1]
        full = len(poster_png(sim.seed, dropped))
        received = bytearray()
        with client.stream("GET", _image(dropped)) as response:
            assert response.headers["content-length"] == str(full)
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in response.iter_raw():
                    received += chunk
        assert len(received) == full // 2
        assert [_outcome(lambda: client.get(_image(i))) for i in sim.item_ids[:4]] == \
            [200, "RemoteProtocolError", 200, "RemoteProtocolError"]
        assert sim.truth() == {"body_drop": {"every": 2, "count": 3, "item_ids": [dropped, sim.item_ids[3]]}}
        assert [r["fault"] for r in sim.stats()["requests"]] == ["body_drop", None, "body_drop", None, "body_drop"]


def test_headers_stall_sends_nothing_then_closes() -> None:
    with shaped(timeout=0.3, headers_stall_every=2, stall_seconds=0.5) as (sim, client):
        stalled = sim.item_ids[1]
        assert client.get(f"/Items/{sim.item_ids[0]}", params={"ApiKey": KEY}).status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"/Items/{stalled}", params={"ApiKey": KEY})
        with httpx.Client(base_url=sim.url, timeout=5) as patient:  # outlasts the stall: sees the close
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                patient.get(f"/Users/{sim.user_id}/Items/{stalled}", params={"ApiKey": KEY})
        assert client.get(_image(stalled)).status_code == 200  # only lookups stall
        assert sim.truth() == {"headers_stall": {"every": 2, "seconds": 0.5, "count": 2, "item_ids": [stalled]}}
        stats = sim.stats()
        assert stats["by_status"] == {"200": 2, "none": 2} and stats["total"] == 4
        assert _seen(sim)[1:3] == [(None, "headers_stall", 1), (None, "headers_stall", 2)]


def _stop_mid_transfer(shapes: Shapes, jobs: dict[str, str]) -> dict[str, Any]:
    """Start ``jobs`` (name -> path) in threads, stop the simulator mid-wait; the outcome of each."""
    sim = JellyfinSimulator(api_key=KEY, shapes=shapes).start()
    outcomes: dict[str, Any] = {}

    def fetch(name: str, path: str) -> None:
        with httpx.Client(base_url=sim.url, timeout=20) as client:
            outcomes[name] = _outcome(lambda: client.get(path.format(*sim.item_ids[:2]), params={"ApiKey": KEY}))

    threads = [threading.Thread(target=fetch, args=job) for job in jobs.items()]
    for thread in threads:
        thread.start()
    while sim.stats()["total"] < len(jobs):
        time.sleep(0.01)
    time.sleep(0.1)  # let half bodies and first slices go out, so each handler is inside its wait
    handlers = f"jellyfin-sim-{sim.url.rsplit(':', 1)[1]}-conn"
    started = time.monotonic()
    sim.stop()
    for thread in threads:
        thread.join(timeout=5)
    outcomes["seconds"] = time.monotonic() - started
    deadline = time.monotonic() + 5
    while any(t.name == handlers for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    outcomes["handlers_left"] = sum(t.name == handlers for t in threading.enumerate())
    return outcomes


def test_stop_ends_stalls_at_once() -> None:
    outcomes = _stop_mid_transfer(Shapes(body_stall_every=2, headers_stall_every=1, stall_seconds=30),
                                  {"body": _image("{1}"), "headers": "/Items/{0}"})
    assert outcomes.pop("seconds") < 5  # a 30 s stall was not waited out
    # handler threads ended: their waits woke up (closing the sockets alone would not end a bare sleep)
    assert outcomes == {"body": "RemoteProtocolError", "headers": "RemoteProtocolError", "handlers_left": 0}


def test_stop_ends_a_slow_body_at_once() -> None:
    outcomes = _stop_mid_transfer(Shapes(image_rate=500), {"slow": _image("{0}")})  # ~15 s for a poster
    assert outcomes.pop("seconds") < 5
    assert outcomes == {"slow": "RemoteProtocolError", "handlers_left": 0}


def test_redirect_images_302_to_a_cdn_path_that_serves_the_poster() -> None:
    with shaped(redirect_images=True) as (sim, client):
        item = sim.item_ids[4]
        hop = client.get(_image(item))
        assert hop.status_code == 302 and hop.headers["location"] == f"/cdn/posters/{item}.png"
        assert hop.content == b""
        followed = client.get(_image(item), follow_redirects=True)
        assert followed.status_code == 200 and [r.status_code for r in followed.history] == [302]
        assert followed.content == poster_png(sim.seed, item) and followed.headers["content-type"] == "image/png"
        head = client.head(_image(item), follow_redirects=True)
        assert head.headers["content-length"] == str(len(followed.content))
        assert client.get(_image("f" * 32)).status_code == 404  # errors stay on the original route
        assert client.get(_image("not-a-guid")).status_code == 400
        assert sim.truth() == {"redirects": 3}
        assert [(r["path"].split("/")[1], r["status"], r["fault"]) for r in sim.stats()["requests"]] == [
            ("Items", 302, "redirect"), ("Items", 302, "redirect"), ("cdn", 200, None), ("Items", 302, "redirect"),
            ("cdn", 200, None), ("Items", 404, None), ("Items", 400, None)]
        assert sim.stats()["by_route"]["image"] == 7
    with shaped() as (sim, client):
        assert client.get(f"/cdn/posters/{sim.item_ids[0]}.png").status_code == 404  # no CDN without the shape


def test_image_bytes_serves_valid_pngs_of_exactly_that_size() -> None:
    with shaped(image_bytes=300_000) as (sim, client):
        first, second = (client.get(_image(i)).content for i in sim.item_ids[:2])
        assert len(first) == len(second) == 300_000 and first != second
        assert client.get(_image(sim.item_ids[0])).content == first
        assert client.head(_image(sim.item_ids[0])).headers["content-length"] == "300000"
        chunks = _png_chunks(first)
        kinds = [kind for kind, _ in chunks]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and kinds.index(b"PLTE") < kinds.index(b"IDAT")
        assert struct.unpack(">II", chunks[0][1][:8]) == (WIDTH, HEIGHT)
        pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
        assert len(pixels) == HEIGHT * (WIDTH + 1) and max(pixels) < 4  # palette indices into 4 colours
        assert sim.truth() == {"image_bytes": 300_000}
    with JellyfinSimulator(profile="large-images") as sim:
        assert len(httpx.get(sim.url + _image(sim.item_ids[0])).content) == 5 * MIB


def test_image_rate_paces_the_body_in_small_steady_slices() -> None:
    # 60 kB at 100 kB/s: ~0.55 s in all, a slice every 50 ms, so a 0.3 s read timeout never fires.
    with shaped(timeout=0.3, image_bytes=60_000, image_rate=100_000) as (sim, client):
        started = time.monotonic()
        response = client.get(_image(sim.item_ids[0]))
        assert response.status_code == 200 and len(response.content) == 60_000
        assert time.monotonic() - started > 0.4  # generous: unpaced, it takes a millisecond
        assert sim.truth() == {"image_bytes": 60_000, "image_rate": 100_000}


def test_die_after_refuses_new_connections_and_drops_in_flight_requests() -> None:
    sim = JellyfinSimulator(api_key=KEY, shapes=Shapes(die_after=3)).start()
    with httpx.Client(base_url=sim.url, timeout=2) as job, httpx.Client(base_url=sim.url, timeout=2) as other:
        assert other.get("/System/Info/Public").status_code == 200  # a kept-alive connection, not numbered
        assert [job.get(_image(i)).status_code for i in sim.item_ids[:3]] == [200, 200, 200]
        with pytest.raises(httpx.RemoteProtocolError):  # the job's kept-alive connection: read, then dropped
            job.get(_image(sim.item_ids[3]))
        with pytest.raises(httpx.RemoteProtocolError):
            other.get("/System/Info/Public")
        with pytest.raises(httpx.ConnectError):
            job.get(_image(sim.item_ids[3]))
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/System/Info/Public", timeout=2)
    assert sim.truth() == {"died": {"after": 3, "dead": True, "in_flight_dropped": 2}}
    stats = sim.stats()
    assert stats["total"] == 6 and stats["by_status"] == {"200": 4, "none": 2}
    assert _seen(sim)[-2:] == [(None, "in_flight_drop", 3), (None, "in_flight_drop", None)]
    started = time.monotonic()
    sim.stop()
    sim.stop()
    assert time.monotonic() - started < 5


def test_legacy_auth_only_ignores_authorization_and_apikey() -> None:
    with shaped(legacy_auth_only=True) as (sim, client):
        path = f"/Items/{sim.item_ids[0]}"
        assert client.get(path, headers={"Authorization": f'MediaBrowser Token="{KEY}"'}).status_code == 401
        assert client.get(path, params={"ApiKey": KEY}).status_code == 401
        legacy = [({"X-Emby-Token": KEY}, {}), ({"X-MediaBrowser-Token": KEY}, {}),
                  ({"X-Emby-Authorization": f'MediaBrowser Client="x", Token="{KEY}"'}, {}), ({}, {"api_key": KEY})]
        assert [client.get(path, headers=h, params=p).status_code for h, p in legacy] == [200] * 4
        assert client.get("/System/Info/Public").json()["Version"] == "10.7.7"
        assert sim.truth() == {"legacy_auth_only": True, "version": "10.7.7"}
    with JellyfinSimulator(profile="legacy-auth", version="10.7.0") as sim:
        assert httpx.get(f"{sim.url}/System/Info/Public").json()["Version"] == "10.7.0"
        assert sim.truth() == {"legacy_auth_only": True, "version": "10.7.0"}
    with pytest.raises(ValueError, match="legacy_auth_only"):
        JellyfinSimulator(legacy_auth=False, shapes=Shapes(legacy_auth_only=True))


def test_version_is_reported_and_recorded() -> None:
    with JellyfinSimulator(version="10.9.11") as sim:
        assert httpx.get(f"{sim.url}/System/Info/Public").json()["Version"] == "10.9.11"
        assert sim.truth() == {"version": "10.9.11"}


def test_connection_close_opens_a_new_connection_for_every_request() -> None:
    with shaped(connection_close=True) as (sim, client):
        connects: list[str] = []

        def trace(name: str, info: dict[str, Any]) -> None:
            if name.startswith("connection.connect_tcp.started"):
                connects.append(name)

        responses = [client.get(path, extensions={"trace": trace})
                     for path in (_image(sim.item_ids[0]), "/nope", f"/Items/{sim.item_ids[0]}")]
        assert [r.status_code for r in responses] == [200, 404, 401]
        assert all(r.headers["connection"] == "close" for r in responses) and len(connects) == 3
        assert sim.truth() == {"connection_close": 3}
        assert [r["fault"] for r in sim.stats()["requests"]] == ["connection_close"] * 3


def test_idle_drops_hit_every_nth_request_on_a_reused_connection() -> None:
    with shaped(idle_drop_every=2) as (sim, client):
        outcomes = [_outcome(lambda: client.get(_image(i))) for i in sim.item_ids[:6]]
        # new, reused #1, reused #2 (dropped); a fresh connection: new, reused #3, reused #4 (dropped)
        assert outcomes == [200, 200, "RemoteProtocolError", 200, 200, "RemoteProtocolError"]
        assert sim.truth() == {"idle_drop": {"every": 2, "count": 2}}
        assert sim.stats()["by_status"] == {"200": 4, "none": 2}
        assert _seen(sim)[2] == (None, "idle_drop", 2)


# -- composition, naming, determinism, reset ---------------------------------------


def test_shapes_compose_with_a_fault_profile() -> None:
    with shaped(profile="mixed", proxy_outage=(0, 2), connection_close=True) as (sim, client):
        broken = sim.broken_item_ids[0]
        responses = [client.get(_image(broken)) for _ in range(3)]
        assert [r.status_code for r in responses] == [502, 502, 500]
        assert all(r.headers["connection"] == "close" for r in responses)
        assert [r["fault"] for r in sim.stats()["requests"]] == ["proxy_502", "proxy_502", "fault_500"]
        assert sim.truth()["connection_close"] == 3 and sim.truth()["proxy_502"]["item_ids"] == [broken]


@pytest.mark.parametrize("profile, faulty", [("flaky", {503}), ("rate-limited", {429}), ("mixed", {429, 503})])
def test_injected_faults_are_named(profile: str, faulty: set[int]) -> None:
    with shaped(profile=profile) as (sim, client):
        codes = {client.get(_image(i)).status_code for i in sim.item_ids[:16]}
        assert codes == faulty | {200}
        named = {(r["status"], r["fault"]) for r in sim.stats()["requests"]}
        assert named == {(200, None)} | {(code, f"fault_{code}") for code in faulty}


def test_shape_profiles_behave_as_their_names_say() -> None:
    with JellyfinSimulator(profile="proxy-outage") as sim, httpx.Client(base_url=sim.url) as client:
        codes = [client.get(_image(sim.item_ids[n])).status_code for n in range(32)]
        assert codes == [200] * 10 + [502] * 20 + [200] * 2
        assert sim.truth()["proxy_502"]["answered"] == 20
    with JellyfinSimulator(profile="key-revoked", api_key=KEY) as sim, httpx.Client(base_url=sim.url) as client:
        codes = [client.get(f"/Items/{sim.item_ids[n]}", params={"ApiKey": KEY}).status_code for n in range(14)]
        assert codes == [200] * 12 + [401] * 2


def test_same_shapes_same_run_same_ground_truth() -> None:
    def run() -> tuple[list[Any], dict[str, Any]]:
        with shaped(proxy_outage=(3, 2), body_drop_every=4, idle_drop_every=3) as (sim, client):
            outcomes = [_outcome(lambda: client.get(_image(i))) for i in sim.item_ids[:12]]
            return outcomes, {"stats": _seen(sim), "truth": sim.truth()}

    first = run()
    assert first == run()
    assert {"RemoteProtocolError", 502, 200} <= set(first[0])


def test_reset_stats_restarts_numbering_and_truth() -> None:
    with shaped(proxy_outage=(1, 1)) as (sim, client):
        assert [client.get(_image(i)).status_code for i in sim.item_ids[:2]] == [200, 502]
        sim.reset_stats()
        assert sim.stats()["total"] == 0
        assert sim.truth()["proxy_502"] == {"window": [1, 1], "answered": 0, "first_request": None,
                                            "last_request": None, "item_ids": []}
        assert [client.get(_image(i)).status_code for i in sim.item_ids[2:4]] == [200, 502]
        assert sim.truth()["proxy_502"]["item_ids"] == [sim.item_ids[3]]
