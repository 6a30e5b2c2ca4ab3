"""The Jellyfin simulator's authentication forms and its fault profiles (flaky, rate-limited, mixed, bad-auth).

A real server over loopback, driven with httpx; the server's contract and routes are in ``test_simulator.py``.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from batch_debug.jellyfin.profiles import FaultPolicy
from batch_debug.jellyfin.simulator import JellyfinSimulator
from sim_helpers import KEY, image, statuses_until_ok


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
        assert image(c, item_id).status_code == 200


def _flaky_run(seed: int, items: list[int], workers: int) -> dict[str, list[int]]:
    """Fetch each item's image until 200 (max 3 tries); items in parallel, in the given order."""
    with JellyfinSimulator(profile="flaky", seed=seed, latency_scale=0) as server, httpx.Client(base_url=server.url) as c:
        ids = [server.item_ids[i] for i in items]
        with ThreadPoolExecutor(workers) as pool:
            return dict(zip(ids, pool.map(lambda i: statuses_until_ok(c, i), ids)))


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
    with JellyfinSimulator(profile="flaky", seed=42, latency_scale=0) as server, httpx.Client(base_url=server.url) as c:
        ids = server.item_ids[:30]
        heads = [c.head(f"/Items/{i}/Images/Primary").status_code for i in ids]
        lookups = [c.get(f"/Items/{i}", params={"ApiKey": KEY}).status_code for i in ids]
        gets = [image(c, i) for i in ids]
    assert heads == [200] * 30 and lookups == [200] * 30
    unavailable = [r for r in gets if r.status_code == 503]
    assert unavailable and all(r.text == "Service Unavailable" for r in unavailable)


def test_rate_limited_profile_answers_429_with_retry_after() -> None:
    with JellyfinSimulator(profile="rate-limited", rate_limit_per_second=5, rate_limit_burst=3) as server, \
            httpx.Client(base_url=server.url) as c:
        responses = [image(c, server.item_ids[0]) for _ in range(20)]
        codes = [r.status_code for r in responses]
        assert codes[:3] == [200, 200, 200]
        limited = [r for r in responses if r.status_code == 429]
        assert len(limited) >= 10
        assert all(r.headers["retry-after"] == "1" for r in limited)
        assert limited[0].json()["status"] == 429
        deadline = time.monotonic() + 30  # the bucket refills at 5/s: the first try after 0.2 s gets through
        while (status := image(c, server.item_ids[0]).status_code) == 429 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status == 200


def test_mixed_profile_persistent_500_every_25th_item_and_transient_faults() -> None:
    with JellyfinSimulator(profile="mixed", seed=42) as server, httpx.Client(base_url=server.url) as c:
        assert server.broken_item_ids == server.item_ids[24::25]
        for item_id in server.broken_item_ids[:2]:
            responses = [image(c, item_id) for _ in range(3)]
            assert [r.status_code for r in responses] == [500, 500, 500]
            assert "IOException" in responses[0].json()["detail"]
        first = {i: image(c, i) for i in server.item_ids[:24]}
        codes = {r.status_code for r in first.values()}
        assert codes <= {200, 429, 503} and 200 in codes and codes != {200}
        for item_id, response in first.items():
            if response.status_code == 429:
                assert response.headers["retry-after"] == "1"
            if response.status_code != 200:
                assert image(c, item_id).status_code == 200  # transient: second attempt succeeds


def test_mixed_demo_batch_has_every_failure_kind() -> None:
    server = JellyfinSimulator(profile="mixed", seed=42)
    ids = server.demo_item_ids(50)
    assert ids == server.demo_item_ids(50) and ids != server.demo_item_ids(50, seed=7)
    known = [i for i in ids if i in server.item_ids]
    unknown = [i for i in ids if re.fullmatch(r"[0-9a-f]{32}", i) and i not in server.item_ids]
    malformed = [i for i in ids if not re.fullmatch(r"[0-9a-f]{32}", i)]
    assert (len(known), len(unknown), len(malformed)) == (40, 5, 5)
    assert set(known) & set(server.broken_item_ids)




@pytest.mark.parametrize("profile", ["flaky", "mixed"])
def test_latency_scale_changes_the_delays_and_nothing_else(profile: str) -> None:
    paced, quick = FaultPolicy(profile, 7), FaultPolicy(profile, 7, latency_scale=0)
    requests = [(kind, method, f"item{k:03d}", k) for k in range(200)
                for kind, method in (("image", "GET"), ("image", "HEAD"), ("item", "GET")) for _ in range(2)]
    slow = [paced.decide(*r) for r in requests]
    fast = [quick.decide(*r) for r in requests]
    assert any(f.delay_s > 0 for f in slow), "the profile injects no delay: nothing to scale"
    assert all(f.delay_s == 0 for f in fast)
    assert [(f.status, f.retry_after) for f in fast] == [(f.status, f.retry_after) for f in slow]


def test_latency_scale_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="latency_scale must be 0 or more"):
        JellyfinSimulator(latency_scale=-1)
