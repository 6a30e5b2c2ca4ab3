"""Tests for the Jellyfin simulator: a real server over loopback, driven with httpx."""

from __future__ import annotations

import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from batch_debug.jellyfin.simulator import PROFILES, JellyfinSimulator

KEY = "sim-api-key"


@pytest.fixture
def sim() -> Iterator[JellyfinSimulator]:
    with JellyfinSimulator(profile="healthy", seed=42, api_key=KEY) as server:
        yield server


@pytest.fixture
def client(sim: JellyfinSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def _image(client: httpx.Client, item_id: str) -> httpx.Response:
    return client.get(f"/Items/{item_id}/Images/Primary")


def _statuses_until_ok(client: httpx.Client, item_id: str, tries: int = 3) -> list[int]:
    statuses: list[int] = []
    for _ in range(tries):
        statuses.append(_image(client, item_id).status_code)
        if statuses[-1] == 200:
            break
    return statuses


def test_profiles_are_the_contract_names() -> None:
    assert PROFILES == ("healthy", "flaky", "rate-limited", "bad-auth", "mixed", "proxy-outage", "key-revoked",
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
    response = _image(client, sim.item_ids[0])
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
    assert _image(client, sim.item_ids[0]).content == data
    assert _image(client, sim.item_ids[1]).content != data


def test_head_has_headers_but_no_body(sim: JellyfinSimulator, client: httpx.Client) -> None:
    full = _image(client, sim.item_ids[3])
    head = client.head(f"/Items/{sim.item_ids[3]}/Images/Primary")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["content-type"] == "image/png"
    assert head.headers["server"] == "Kestrel"


@pytest.mark.parametrize("bad_id", ["not-a-guid", "12345", "z" * 32, "0123456789abcdef"])
def test_malformed_id_is_400_with_validation_body(client: httpx.Client, bad_id: str) -> None:
    response = _image(client, bad_id)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["errors"]["itemId"] == [f"The value '{bad_id}' is not valid."]


def test_unknown_id_is_404_and_dashed_guid_is_accepted(sim: JellyfinSimulator, client: httpx.Client) -> None:
    assert _image(client, "f" * 32).status_code == 404
    assert client.head(f"/Items/{'f' * 32}/Images/Primary").status_code == 404
    i = sim.item_ids[5]
    dashed = f"{i[:8]}-{i[8:12]}-{i[12:16]}-{i[16:20]}-{i[20:]}".upper()
    assert _image(client, dashed).status_code == 200


def test_unknown_route_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    missing = client.get("/Library/VirtualFolders")
    assert missing.status_code == 404 and missing.headers["server"] == "Kestrel"
    assert client.post("/System/Info/Public").status_code == 405


AUTH_FORMS = {
    "authorization": ({"Authorization": f'MediaBrowser Token="{KEY}"'}, {}),
    "authorization-full": ({"Authorization": f'MediaBrowser Client="x", Device="y", DeviceId="z", '
                                             f'Version="1", Token="{KEY}"'}, {}),
    "authorization-emby-lowercase": ({"Authorization": f'emby token="{KEY}"'}, {}),
    "query-ApiKey": ({}, {"ApiKey": KEY}),
    "query-apikey-any-case": ({}, {"APIKEY": KEY}),
    "legacy-x-emby-token": ({"X-Emby-Token": KEY}, {}),
    "legacy-x-mediabrowser-token": ({"X-MediaBrowser-Token": KEY}, {}),
    "legacy-x-emby-authorization": ({"X-Emby-Authorization": f'MediaBrowser Client="x", Token="{KEY}"'}, {}),
    "legacy-query-api_key": ({}, {"api_key": KEY}),
}
LEGACY = [name for name in AUTH_FORMS if name.startswith("legacy-")]


@pytest.mark.parametrize("form", list(AUTH_FORMS))
def test_each_auth_form_is_accepted(sim: JellyfinSimulator, client: httpx.Client, form: str) -> None:
    headers, params = AUTH_FORMS[form]
    item_id = sim.item_ids[2]
    for path in (f"/Items/{item_id}", f"/Users/{sim.user_id}/Items/{item_id}"):
        response = client.get(path, headers=headers, params=params)
        assert response.status_code == 200, (form, path)
        item = response.json()
        assert item["Id"] == item_id and item["Type"] == "Movie"
        assert re.fullmatch(r"[0-9a-f]{32}", item["ImageTags"]["Primary"])
        assert KEY not in response.text  # the item answer never echoes the key


@pytest.mark.parametrize("headers, params", [
    ({}, {}),
    ({"Authorization": 'MediaBrowser Token="wrong"'}, {}),
    ({}, {"ApiKey": "wrong"}),
    ({"X-Emby-Token": "wrong"}, {}),
    ({"Authorization": f"Bearer {KEY}"}, {}),
])
def test_missing_or_wrong_key_is_401(sim: JellyfinSimulator, client: httpx.Client,
                                     headers: dict[str, str], params: dict[str, str]) -> None:
    response = client.get(f"/Items/{sim.item_ids[0]}", headers=headers, params=params)
    assert response.status_code == 401
    assert "Unauthorized" in response.text


def test_auth_comes_before_id_validation(client: httpx.Client) -> None:
    assert client.get("/Items/not-a-guid").status_code == 401
    assert client.get("/Items/not-a-guid", params={"ApiKey": KEY}).status_code == 400
    assert client.get(f"/Items/{'a' * 32}", params={"ApiKey": KEY}).status_code == 404


@pytest.mark.parametrize("form", LEGACY)
def test_legacy_forms_rejected_without_legacy_auth(form: str) -> None:
    with JellyfinSimulator(api_key=KEY, legacy_auth=False) as server, httpx.Client(base_url=server.url) as c:
        headers, params = AUTH_FORMS[form]
        path = f"/Items/{server.item_ids[0]}"
        assert c.get(path, headers=headers, params=params).status_code == 401
        assert c.get(path, params={"ApiKey": KEY}).status_code == 200


def test_user_items_pages_with_start_index_and_limit(sim: JellyfinSimulator, client: httpx.Client) -> None:
    response = client.get(f"/Users/{sim.user_id}/Items", params={"startIndex": 10, "limit": 5, "ApiKey": KEY})
    assert response.status_code == 200
    body = response.json()
    assert body["TotalRecordCount"] == 200
    assert [item["Id"] for item in body["Items"]] == sim.item_ids[10:15]
    assert client.get(f"/Users/{sim.user_id}/Items").status_code == 401
    assert client.get(f"/Users/{'b' * 32}/Items", params={"ApiKey": KEY}).status_code == 404
    assert client.get(f"/Users/{sim.user_id}/Items", params={"Limit": "x", "ApiKey": KEY}).status_code == 400


def test_authenticate_by_name_returns_the_key_as_access_token(client: httpx.Client) -> None:
    response = client.post("/Users/AuthenticateByName", json={"Username": "demo", "Pw": "pw"})
    assert response.status_code == 200
    assert response.json()["AccessToken"] == KEY
    assert client.post("/Users/AuthenticateByName", content=b"not json").status_code == 400


def test_bad_auth_profile_rejects_every_key_but_serves_images() -> None:
    with JellyfinSimulator(profile="bad-auth", api_key=KEY) as server, httpx.Client(base_url=server.url) as c:
        item_id = server.item_ids[0]
        assert c.get(f"/Items/{item_id}", params={"ApiKey": KEY}).status_code == 401
        assert c.get(f"/Users/{server.user_id}/Items/{item_id}",
                     headers={"Authorization": f'MediaBrowser Token="{KEY}"'}).status_code == 401
        assert _image(c, item_id).status_code == 200


def _flaky_run(seed: int, items: list[int], workers: int) -> dict[str, list[int]]:
    """Fetch each item's image until 200 (max 3 tries); items in parallel, in the given order."""
    with JellyfinSimulator(profile="flaky", seed=seed) as server, httpx.Client(base_url=server.url) as c:
        ids = [server.item_ids[i] for i in items]
        with ThreadPoolExecutor(workers) as pool:
            return dict(zip(ids, pool.map(lambda i: _statuses_until_ok(c, i), ids)))


def test_flaky_profile_recovers_within_three_tries_and_is_deterministic() -> None:
    items = list(range(30))
    first = _flaky_run(42, items, workers=1)
    assert all(statuses[-1] == 200 for statuses in first.values()), first
    failures = [s for statuses in first.values() for s in statuses if s != 200]
    assert failures and set(failures) == {503}
    # Same seed, different thread interleaving and order: identical per-item sequences.
    second = _flaky_run(42, list(reversed(items)), workers=8)
    assert second == first


def test_flaky_faults_only_hit_image_gets_and_answer_like_a_proxy() -> None:
    with JellyfinSimulator(profile="flaky", seed=42) as server, httpx.Client(base_url=server.url) as c:
        ids = server.item_ids[:30]
        heads = [c.head(f"/Items/{i}/Images/Primary").status_code for i in ids]
        lookups = [c.get(f"/Items/{i}", params={"ApiKey": KEY}).status_code for i in ids]
        gets = [_image(c, i) for i in ids]
    assert heads == [200] * 30 and lookups == [200] * 30
    unavailable = [r for r in gets if r.status_code == 503]
    assert unavailable and all(r.text == "Service Unavailable" for r in unavailable)


def test_rate_limited_profile_answers_429_with_retry_after() -> None:
    with JellyfinSimulator(profile="rate-limited", rate_limit_per_second=5, rate_limit_burst=3) as server, \
            httpx.Client(base_url=server.url) as c:
        responses = [_image(c, server.item_ids[0]) for _ in range(20)]
        codes = [r.status_code for r in responses]
        assert codes[:3] == [200, 200, 200]
        limited = [r for r in responses if r.status_code == 429]
        assert len(limited) >= 10
        assert all(r.headers["retry-after"] == "1" for r in limited)
        assert limited[0].json()["status"] == 429
        time.sleep(0.5)  # the bucket refills at 5/s
        assert _image(c, server.item_ids[0]).status_code == 200


def test_mixed_profile_persistent_500_every_25th_item_and_transient_faults() -> None:
    with JellyfinSimulator(profile="mixed", seed=42) as server, httpx.Client(base_url=server.url) as c:
        assert server.broken_item_ids == server.item_ids[24::25]
        for item_id in server.broken_item_ids[:2]:
            responses = [_image(c, item_id) for _ in range(3)]
            assert [r.status_code for r in responses] == [500, 500, 500]
            assert "IOException" in responses[0].json()["detail"]
        first = {i: _image(c, i) for i in server.item_ids[:24]}
        codes = {r.status_code for r in first.values()}
        assert codes <= {200, 429, 503} and 200 in codes and codes != {200}
        for item_id, response in first.items():
            if response.status_code == 429:
                assert response.headers["retry-after"] == "1"
            if response.status_code != 200:
                assert _image(c, item_id).status_code == 200  # transient: second attempt succeeds


def test_mixed_demo_batch_has_every_failure_kind() -> None:
    server = JellyfinSimulator(profile="mixed", seed=42)
    ids = server.demo_item_ids(50)
    assert ids == server.demo_item_ids(50) and ids != server.demo_item_ids(50, seed=7)
    known = [i for i in ids if i in server.item_ids]
    unknown = [i for i in ids if re.fullmatch(r"[0-9a-f]{32}", i) and i not in server.item_ids]
    malformed = [i for i in ids if not re.fullmatch(r"[0-9a-f]{32}", i)]
    assert (len(known), len(unknown), len(malformed)) == (40, 5, 5)
    assert set(known) & set(server.broken_item_ids)


def test_stats_count_every_request_without_query_strings(sim: JellyfinSimulator, client: httpx.Client) -> None:
    client.get("/System/Info/Public")
    sim.reset_stats()
    item_id = sim.item_ids[0]
    client.get("/System/Info/Public")
    _image(client, item_id)
    client.head(f"/Items/{item_id}/Images/Primary")
    _image(client, "12345")
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
            codes = list(pool.map(lambda i: _image(c, sim.item_ids[i % 20]).status_code, range(80)))
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
