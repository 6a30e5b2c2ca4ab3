"""The Jellyfin simulator as a server: its contract, routes, answers, statistics and lifecycle.

A real server over loopback, driven with httpx; who may ask and what goes wrong on purpose
(authentication forms and fault profiles) are in ``test_simulator_auth_and_profiles.py``.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from batch_debug.jellyfin.simulator import PROFILES, JellyfinSimulator
from sim_helpers import KEY, image


def test_profiles_are_the_contract_names() -> None:
    assert PROFILES == ("healthy", "flaky", "rate-limited", "bad-auth", "mixed", "proxy-outage", "sign-in-page", "key-revoked",
                        "body-stall", "body-drop", "headers-stall", "redirects", "large-images", "slow-images",
                        "dies-mid-job", "legacy-auth", "connection-close", "idle-drops")


def test_unknown_profile_raises_a_sentence_listing_valid_names() -> None:
    with pytest.raises(ValueError) as err:
        JellyfinSimulator(profile="chaos")
    message = str(err.value)
    assert "'chaos'" in message and message.endswith(".")
    assert all(name in message for name in PROFILES)


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        JellyfinSimulator(host="0.0.0.0")


def test_ids_are_deterministic_32_hex() -> None:
    a, b = JellyfinSimulator(seed=7, item_count=30), JellyfinSimulator(seed=7, item_count=30)
    assert a.item_ids == b.item_ids and a.user_id == b.user_id
    assert len(set(a.item_ids)) == 30
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in [*a.item_ids, a.user_id])
    assert JellyfinSimulator(seed=8, item_count=30).item_ids != a.item_ids


def test_system_info_shape(sim: JellyfinSimulator, client: httpx.Client) -> None:
    response = client.get("/System/Info/Public")
    assert response.status_code == 200
    assert response.headers["server"] == "Kestrel"
    assert "date" in response.headers
    assert response.headers["content-type"].startswith("application/json")
    info = response.json()
    assert info["LocalAddress"] == sim.url
    assert info["ServerName"] == "batch-debug-sim"
    assert info["Version"] == "10.10.7"
    assert info["ProductName"] == "Jellyfin Server"
    assert info["OperatingSystem"] == "Linux"
    assert info["StartupWizardCompleted"] is True
    assert re.fullmatch(r"[0-9a-f]{32}", info["Id"])


def test_image_is_a_valid_png(sim: JellyfinSimulator, client: httpx.Client) -> None:
    response = image(client, sim.item_ids[0])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    data = response.content
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (120, 180, 8, 2)
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(data[12:29])
    assert data.endswith(b"IEND\xaeB`\x82")
    assert 1000 < len(data) < 20000
    # Same bytes every time; different items get different posters.
    assert image(client, sim.item_ids[0]).content == data
    assert image(client, sim.item_ids[1]).content != data


def test_head_has_headers_but_no_body(sim: JellyfinSimulator, client: httpx.Client) -> None:
    full = image(client, sim.item_ids[3])
    head = client.head(f"/Items/{sim.item_ids[3]}/Images/Primary")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["content-type"] == "image/png"
    assert head.headers["server"] == "Kestrel"


@pytest.mark.parametrize("bad_id", ["not-a-guid", "12345", "z" * 32, "0123456789abcdef"])
def test_malformed_id_is_400_with_validation_body(client: httpx.Client, bad_id: str) -> None:
    response = image(client, bad_id)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["errors"]["itemId"] == [f"The value '{bad_id}' is not valid."]


def test_unknown_id_is_404_and_dashed_guid_is_accepted(sim: JellyfinSimulator, client: httpx.Client) -> None:
    assert image(client, "f" * 32).status_code == 404
    assert client.head(f"/Items/{'f' * 32}/Images/Primary").status_code == 404
    i = sim.item_ids[5]
    dashed = f"{i[:8]}-{i[8:12]}-{i[12:16]}-{i[16:20]}-{i[20:]}".upper()
    assert image(client, dashed).status_code == 200


def test_unknown_route_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    missing = client.get("/Library/VirtualFolders")
    assert missing.status_code == 404 and missing.headers["server"] == "Kestrel"
    assert client.post("/System/Info/Public").status_code == 405



def test_user_items_pages_with_start_index_and_limit(sim: JellyfinSimulator, client: httpx.Client) -> None:
    response = client.get(f"/Users/{sim.user_id}/Items", params={"startIndex": 10, "limit": 5, "ApiKey": KEY})
    assert response.status_code == 200
    body = response.json()
    assert body["TotalRecordCount"] == 200
    assert [item["Id"] for item in body["Items"]] == sim.item_ids[10:15]
    assert client.get(f"/Users/{sim.user_id}/Items").status_code == 401
    assert client.get(f"/Users/{'b' * 32}/Items", params={"ApiKey": KEY}).status_code == 404
    assert client.get(f"/Users/{sim.user_id}/Items", params={"Limit": "x", "ApiKey": KEY}).status_code == 400



def test_stats_count_every_request_without_query_strings(sim: JellyfinSimulator, client: httpx.Client) -> None:
    client.get("/System/Info/Public")
    sim.reset_stats()
    item_id = sim.item_ids[0]
    client.get("/System/Info/Public")
    image(client, item_id)
    client.head(f"/Items/{item_id}/Images/Primary")
    image(client, "12345")
    client.get(f"/Items/{item_id}", params={"api_key": KEY})
    client.get(f"/Users/{sim.user_id}/Items/{item_id}")
    client.get(f"/Users/{sim.user_id}/Items", params={"ApiKey": KEY, "Limit": 1})
    client.get("/nope")
    stats = sim.stats()
    assert stats["total"] == 8 == len(stats["requests"])
    assert stats["by_status"] == {"200": 5, "400": 1, "401": 1, "404": 1}
    assert stats["by_method"] == {"GET": 7, "HEAD": 1}
    assert stats["by_route"] == {"image": 3, "item": 1, "user_item": 1, "user_items": 1,
                                 "system_info": 1, "other": 1}
    assert stats["requests"][4] == {"method": "GET", "path": f"/Items/{item_id}", "status": 200, "fault": None,
                                    "seq": 3}  # the /System/Info/Public probe gets no number
    assert all("?" not in r["path"] and KEY not in r["path"] for r in stats["requests"])
    sim.reset_stats()
    assert sim.stats()["total"] == 0


def test_stats_are_thread_safe_under_concurrency(sim: JellyfinSimulator) -> None:
    with httpx.Client(base_url=sim.url, limits=httpx.Limits(max_connections=8)) as c:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: image(c, sim.item_ids[i % 20]).status_code, range(80)))
    assert codes == [200] * 80
    assert sim.stats()["total"] == 80 == sim.stats()["by_route"]["image"]


def test_keep_alive_reuses_the_connection(sim: JellyfinSimulator, client: httpx.Client) -> None:
    events: list[list[str]] = [[], []]

    def tracer(n: int) -> Callable[[str, dict[str, Any]], None]:
        return lambda name, info: events[n].append(name)

    client.get("/System/Info/Public", extensions={"trace": tracer(0)})
    client.get(f"/Items/{sim.item_ids[0]}/Images/Primary", extensions={"trace": tracer(1)})
    assert any(name.startswith("connection.connect_tcp") for name in events[0])
    assert events[1] and not any(name.startswith("connection.connect_tcp") for name in events[1])


def test_stop_closes_the_port_and_start_is_idempotent() -> None:
    server = JellyfinSimulator()
    with pytest.raises(RuntimeError):
        server.url
    assert server.start() is server.start()
    url = server.url
    assert httpx.get(f"{url}/System/Info/Public").status_code == 200
    server.stop()
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/System/Info/Public", timeout=2)
