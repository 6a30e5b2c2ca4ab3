"""Failure shapes of the Jellyfin simulator that change the answers (proxy pages, revoked keys, redirects,
legacy auth), their profiles and ground truth: what a plain httpx client sees, and that truth() agrees."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from batch_debug.jellyfin import profiles, shapes as shapes_module
from batch_debug.jellyfin.images import poster_png
from batch_debug.jellyfin.replies import NGINX_MESSAGE
from batch_debug.jellyfin.shapes import FAULT_NAMES, Shapes
from batch_debug.jellyfin.simulator import JellyfinSimulator
from shape_helpers import KEY, PRESETS, image_path, outcome, seen, shaped


# -- configuration and profiles ---------------------------------------------------


def test_no_shapes_by_default_and_truth_is_empty() -> None:
    with shaped() as (sim, client):
        assert sim.shapes == Shapes() and sim.truth() == {}
        assert client.get("/System/Info/Public").json()["Version"] == "10.10.7"
        assert client.get(image_path(sim.item_ids[0])).status_code == 200
        assert sim.truth() == {}


@pytest.mark.parametrize("bad", [{"body_stall_every": 0}, {"die_after": 0}, {"proxy_outage": (-1, 3)},
                                 {"proxy_outage": (0, 0)}, {"sign_in_page": (2,)}, {"sign_in_page": (0, 0)}, {"image_bytes": 10}, {"stall_seconds": 0},
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
    everything = Shapes(proxy_outage=(0, 1), sign_in_page=(1, 1), revoke_key_after=1, body_stall_every=1, body_drop_every=1,
                        headers_stall_every=1, redirect_images=True, image_bytes=2048, image_rate=10_000,
                        die_after=5, legacy_auth_only=True, connection_close=True, idle_drop_every=3)
    truth = JellyfinSimulator(shapes=everything, version="10.8.13").truth()
    assert list(truth) == ["proxy_502", "sign_in_page", "revoked", "body_stall", "body_drop", "headers_stall", "redirects",
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
            codes.append(client.get(image_path(ids[n])))
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
        assert seen(sim) == [(200, None, 0), (200, None, 1), (502, "proxy_502", 2), (200, None, None),
                              (502, "proxy_502", 3), (502, "proxy_502", 4), (200, None, 5)]


def test_a_sign_in_page_answers_200_html_for_its_window_whatever_was_asked() -> None:
    with shaped(sign_in_page=(1, 3)) as (sim, client):
        ids = sim.item_ids
        image = client.get(image_path(ids[0]))
        page = client.get(image_path(ids[1]))
        lookup = client.get(f"/Items/{ids[2]}", headers={"X-Emby-Token": KEY})
        head = client.head(image_path(ids[3]))
        after = client.get(image_path(ids[4]))
        assert [r.status_code for r in (image, page, lookup, head, after)] == [200] * 5
        assert image.content[:8] == after.content[:8] == b"\x89PNG\r\n\x1a\n"  # Jellyfin's posters around it
        for answer in (page, lookup, head):
            assert answer.headers["server"] == "portal/2.4" and answer.headers["content-type"] == "text/html"
        assert page.content == lookup.content and b"<title>Sign in</title>" in page.content
        assert "Sign in to continue" in page.text and head.content == b""
        assert sim.truth() == {"sign_in_page": {"window": [1, 3], "answered": 3, "first_request": 1,
                                                "last_request": 3, "item_ids": ids[1:4]}}
        assert [fault for _, fault, _ in seen(sim)] == [None, "sign_in_page", "sign_in_page", "sign_in_page", None]


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
        assert client.get(image_path(item)).status_code == 200  # images need no key
        assert sim.truth() == {"revoked": {"after": 3, "accepted_before": 3, "rejected_after": 4}}
        faults = [r["fault"] for r in sim.stats()["requests"]]
        assert faults == [None, None, None, None] + ["revoked_401"] * 4 + [None]


def test_redirect_images_302_to_a_cdn_path_that_serves_the_poster() -> None:
    with shaped(redirect_images=True) as (sim, client):
        item = sim.item_ids[4]
        hop = client.get(image_path(item))
        assert hop.status_code == 302 and hop.headers["location"] == f"/cdn/posters/{item}.png"
        assert hop.content == b""
        followed = client.get(image_path(item), follow_redirects=True)
        assert followed.status_code == 200 and [r.status_code for r in followed.history] == [302]
        assert followed.content == poster_png(sim.seed, item) and followed.headers["content-type"] == "image/png"
        head = client.head(image_path(item), follow_redirects=True)
        assert head.headers["content-length"] == str(len(followed.content))
        assert client.get(image_path("f" * 32)).status_code == 404  # errors stay on the original route
        assert client.get(image_path("not-a-guid")).status_code == 400
        assert sim.truth() == {"redirects": 3}
        assert [(r["path"].split("/")[1], r["status"], r["fault"]) for r in sim.stats()["requests"]] == [
            ("Items", 302, "redirect"), ("Items", 302, "redirect"), ("cdn", 200, None), ("Items", 302, "redirect"),
            ("cdn", 200, None), ("Items", 404, None), ("Items", 400, None)]
        assert sim.stats()["by_route"]["image"] == 7
    with shaped() as (sim, client):
        assert client.get(f"/cdn/posters/{sim.item_ids[0]}.png").status_code == 404  # no CDN without the shape


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


# -- composition, naming, determinism, reset ---------------------------------------


def test_shapes_compose_with_a_fault_profile() -> None:
    with shaped(profile="mixed", proxy_outage=(0, 2), connection_close=True) as (sim, client):
        broken = sim.broken_item_ids[0]
        responses = [client.get(image_path(broken)) for _ in range(3)]
        assert [r.status_code for r in responses] == [502, 502, 500]
        assert all(r.headers["connection"] == "close" for r in responses)
        assert [r["fault"] for r in sim.stats()["requests"]] == ["proxy_502", "proxy_502", "fault_500"]
        assert sim.truth()["connection_close"] == 3 and sim.truth()["proxy_502"]["item_ids"] == [broken]


@pytest.mark.parametrize("profile, faulty", [("flaky", {503}), ("rate-limited", {429}), ("mixed", {429, 503})])
def test_injected_faults_are_named(profile: str, faulty: set[int]) -> None:
    with shaped(profile=profile) as (sim, client):
        codes = {client.get(image_path(i)).status_code for i in sim.item_ids[:16]}
        assert codes == faulty | {200}
        named = {(r["status"], r["fault"]) for r in sim.stats()["requests"]}
        assert named == {(200, None)} | {(code, f"fault_{code}") for code in faulty}


def test_shape_profiles_behave_as_their_names_say() -> None:
    with JellyfinSimulator(profile="proxy-outage") as sim, httpx.Client(base_url=sim.url) as client:
        codes = [client.get(image_path(sim.item_ids[n])).status_code for n in range(32)]
        assert codes == [200] * 10 + [502] * 20 + [200] * 2
        assert sim.truth()["proxy_502"]["answered"] == 20
    with JellyfinSimulator(profile="key-revoked", api_key=KEY) as sim, httpx.Client(base_url=sim.url) as client:
        codes = [client.get(f"/Items/{sim.item_ids[n]}", params={"ApiKey": KEY}).status_code for n in range(14)]
        assert codes == [200] * 12 + [401] * 2


def test_same_shapes_same_run_same_ground_truth() -> None:
    def run() -> tuple[list[Any], dict[str, Any]]:
        with shaped(proxy_outage=(3, 2), body_drop_every=4, idle_drop_every=3) as (sim, client):
            outcomes = [outcome(lambda: client.get(image_path(i))) for i in sim.item_ids[:12]]
            return outcomes, {"stats": seen(sim), "truth": sim.truth()}

    first = run()
    assert first == run()
    assert {"RemoteProtocolError", 502, 200} <= set(first[0])


def test_reset_stats_restarts_numbering_and_truth() -> None:
    with shaped(proxy_outage=(1, 1)) as (sim, client):
        assert [client.get(image_path(i)).status_code for i in sim.item_ids[:2]] == [200, 502]
        sim.reset_stats()
        assert sim.stats()["total"] == 0
        assert sim.truth()["proxy_502"] == {"window": [1, 1], "answered": 0, "first_request": None,
                                            "last_request": None, "item_ids": []}
        assert [client.get(image_path(i)).status_code for i in sim.item_ids[2:4]] == [200, 502]
        assert sim.truth()["proxy_502"]["item_ids"] == [sim.item_ids[3]]
