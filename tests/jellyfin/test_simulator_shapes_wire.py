"""Failure shapes of the Jellyfin simulator on the wire (stalls, cut bodies, large and slow bodies, a dying
server, closed and dropped connections): what a plain httpx client sees, and that truth() agrees.

Stalls are short and client timeouts shorter, so the file runs in a few seconds.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from typing import Any

import httpx
import pytest

from batch_debug.jellyfin.images import HEIGHT, WIDTH, poster_png
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.simulator import JellyfinSimulator
from shape_helpers import KEY, MIB, image_path, outcome, png_chunks, seen, shaped


def test_body_stall_sends_headers_and_half_the_body_then_goes_silent() -> None:
    with shaped(timeout=0.3, body_stall_every=3, stall_seconds=1.0) as (sim, client):
        stalled = sim.item_ids[2]
        full = len(poster_png(sim.seed, stalled))
        assert client.get(image_path(sim.item_ids[0])).status_code == 200
        received = bytearray()
        with client.stream("GET", image_path(stalled)) as response:
            assert response.status_code == 200 and response.headers["content-length"] == str(full)
            with pytest.raises(httpx.ReadTimeout):
                for chunk in response.iter_raw():
                    received += chunk
        assert len(received) == full // 2
        assert client.head(image_path(stalled)).headers["content-length"] == str(full)  # HEAD has no body to stall
        assert sim.truth() == {"body_stall": {"every": 3, "seconds": 1.0, "count": 1, "item_ids": [stalled]}}
        assert seen(sim) == [(200, None, 0), (200, "body_stall", 1), (200, None, 2)]


def test_body_drop_closes_the_connection_half_way() -> None:
    with shaped(body_drop_every=2) as (sim, client):
        dropped = sim.item_ids[1]
        full = len(poster_png(sim.seed, dropped))
        received = bytearray()
        with client.stream("GET", image_path(dropped)) as response:
            assert response.headers["content-length"] == str(full)
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in response.iter_raw():
                    received += chunk
        assert len(received) == full // 2
        assert [outcome(lambda: client.get(image_path(i))) for i in sim.item_ids[:4]] == \
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
        assert client.get(image_path(stalled)).status_code == 200  # only lookups stall
        assert sim.truth() == {"headers_stall": {"every": 2, "seconds": 0.5, "count": 2, "item_ids": [stalled]}}
        stats = sim.stats()
        assert stats["by_status"] == {"200": 2, "none": 2} and stats["total"] == 4
        assert seen(sim)[1:3] == [(None, "headers_stall", 1), (None, "headers_stall", 2)]


def _stop_mid_transfer(shapes: Shapes, jobs: dict[str, str]) -> dict[str, Any]:
    """Start ``jobs`` (name -> path) in threads, stop the simulator mid-wait; the outcome of each."""
    sim = JellyfinSimulator(api_key=KEY, shapes=shapes).start()
    outcomes: dict[str, Any] = {}

    def fetch(name: str, path: str) -> None:
        with httpx.Client(base_url=sim.url, timeout=20) as client:
            outcomes[name] = outcome(lambda: client.get(path.format(*sim.item_ids[:2]), params={"ApiKey": KEY}))

    threads = [threading.Thread(target=fetch, args=job) for job in jobs.items()]
    for thread in threads:
        thread.start()
    while sim.stats()["total"] < len(jobs):
        time.sleep(0.01)
    time.sleep(0.1)  # let half bodies and first slices go out, so each handler is inside its wait
    handlers = f"jellyfin-sim-{sim.url.rsplit(':', 1)[1]}-conn"
    sim.stop()
    for thread in threads:
        thread.join(timeout=10)  # far less than the waits: a fetch still waiting leaves no outcome
    deadline = time.monotonic() + 5
    while any(t.name == handlers for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    outcomes["handlers_left"] = sum(t.name == handlers for t in threading.enumerate())
    return outcomes


def test_stop_ends_stalls_at_once() -> None:
    outcomes = _stop_mid_transfer(Shapes(body_stall_every=2, headers_stall_every=1, stall_seconds=30),
                                  {"body": image_path("{1}"), "headers": "/Items/{0}"})
    # Cut, not waited out (a 30 s stall would have ended in a ReadTimeout after 20 s, or no outcome yet);
    # handler threads ended: their waits woke up (closing the sockets alone would not end a bare sleep)
    assert outcomes == {"body": "RemoteProtocolError", "headers": "RemoteProtocolError", "handlers_left": 0}


def test_stop_ends_a_slow_body_at_once() -> None:
    outcomes = _stop_mid_transfer(Shapes(image_rate=500), {"slow": image_path("{0}")})  # ~15 s for a poster
    assert outcomes == {"slow": "RemoteProtocolError", "handlers_left": 0}


def test_image_bytes_serves_valid_pngs_of_exactly_that_size() -> None:
    with shaped(image_bytes=300_000) as (sim, client):
        first, second = (client.get(image_path(i)).content for i in sim.item_ids[:2])
        assert len(first) == len(second) == 300_000 and first != second
        assert client.get(image_path(sim.item_ids[0])).content == first
        assert client.head(image_path(sim.item_ids[0])).headers["content-length"] == "300000"
        chunks = png_chunks(first)
        kinds = [kind for kind, _ in chunks]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and kinds.index(b"PLTE") < kinds.index(b"IDAT")
        assert struct.unpack(">II", chunks[0][1][:8]) == (WIDTH, HEIGHT)
        pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
        assert len(pixels) == HEIGHT * (WIDTH + 1) and max(pixels) < 4  # palette indices into 4 colours
        assert sim.truth() == {"image_bytes": 300_000}
    with JellyfinSimulator(profile="large-images") as sim:
        assert len(httpx.get(sim.url + image_path(sim.item_ids[0])).content) == 5 * MIB


def test_image_rate_paces_the_body_in_small_steady_slices() -> None:
    # 60 kB at 100 kB/s: a slice every 50 ms, so a 0.3 s read timeout never fires.
    with shaped(timeout=0.3, image_bytes=60_000, image_rate=100_000) as (sim, client):
        with client.stream("GET", image_path(sim.item_ids[0])) as response:
            reads = [len(chunk) for chunk in response.iter_raw()]
        assert response.status_code == 200 and sum(reads) == 60_000
        assert len(reads) >= 5  # arrived in slices; unpaced, loopback hands over 60 kB in one or two reads
        assert sim.truth() == {"image_bytes": 60_000, "image_rate": 100_000}


def test_die_after_refuses_new_connections_and_drops_in_flight_requests() -> None:
    sim = JellyfinSimulator(api_key=KEY, shapes=Shapes(die_after=3)).start()
    with httpx.Client(base_url=sim.url, timeout=2) as job, httpx.Client(base_url=sim.url, timeout=2) as other:
        assert other.get("/System/Info/Public").status_code == 200  # a kept-alive connection, not numbered
        assert [job.get(image_path(i)).status_code for i in sim.item_ids[:3]] == [200, 200, 200]
        with pytest.raises(httpx.RemoteProtocolError):  # the job's kept-alive connection: read, then dropped
            job.get(image_path(sim.item_ids[3]))
        with pytest.raises(httpx.RemoteProtocolError):
            other.get("/System/Info/Public")
        with pytest.raises(httpx.ConnectError):
            job.get(image_path(sim.item_ids[3]))
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/System/Info/Public", timeout=2)
    assert sim.truth() == {"died": {"after": 3, "dead": True, "in_flight_dropped": 2}}
    stats = sim.stats()
    assert stats["total"] == 6 and stats["by_status"] == {"200": 4, "none": 2}
    assert seen(sim)[-2:] == [(None, "in_flight_drop", 3), (None, "in_flight_drop", None)]
    sim.stop()
    sim.stop()  # a second stop is a no-op (a hang would run into the suite's timeout)


def test_connection_close_opens_a_new_connection_for_every_request() -> None:
    with shaped(connection_close=True) as (sim, client):
        connects: list[str] = []

        def trace(name: str, info: dict[str, Any]) -> None:
            if name.startswith("connection.connect_tcp.started"):
                connects.append(name)

        responses = [client.get(path, extensions={"trace": trace})
                     for path in (image_path(sim.item_ids[0]), "/nope", f"/Items/{sim.item_ids[0]}")]
        assert [r.status_code for r in responses] == [200, 404, 401]
        assert all(r.headers["connection"] == "close" for r in responses) and len(connects) == 3
        assert sim.truth() == {"connection_close": 3}
        assert [r["fault"] for r in sim.stats()["requests"]] == ["connection_close"] * 3


def test_idle_drops_hit_every_nth_request_on_a_reused_connection() -> None:
    with shaped(idle_drop_every=2) as (sim, client):
        outcomes = [outcome(lambda: client.get(image_path(i))) for i in sim.item_ids[:6]]
        # new, reused #1, reused #2 (dropped); a fresh connection: new, reused #3, reused #4 (dropped)
        assert outcomes == [200, 200, "RemoteProtocolError", 200, 200, "RemoteProtocolError"]
        assert sim.truth() == {"idle_drop": {"every": 2, "count": 2}}
        assert sim.stats()["by_status"] == {"200": 4, "none": 2}
        assert seen(sim)[2] == (None, "idle_drop", 2)
