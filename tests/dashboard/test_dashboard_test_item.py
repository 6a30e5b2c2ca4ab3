"""The Custom ID Test (POST /test-item) against a real Jellyfin simulator."""

from __future__ import annotations

import pytest

from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import setup
from dashboard_helpers import API, SIM_KEY

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def sim_app(make_app, healthy_sim):
    """The dashboard configured for the healthy simulator."""
    return make_app(JELLYFIN_URL=healthy_sim.url, JELLYFIN_API_KEY=SIM_KEY)


def test_a_good_item_downloads_with_three_requests(sim_app, healthy_sim) -> None:
    item = healthy_sim.item_ids[3]
    answer = sim_app.test_client().post(f"{API}/test-item", json={"item_id": item})
    assert answer.status_code == 200
    result = answer.get_json()
    assert (result["item_id"], result["ok"], result["status_code"], result["error"]) == (item, True, 200, None)
    assert result["size_bytes"] > 0
    attempts = result["attempts"]
    assert [(a["method"], a["status_code"], a["attempt"]) for a in attempts] == [
        ("GET", 200, 1), ("HEAD", 200, 1), ("GET", 200, 1)]
    assert result["requests"] == 3
    assert attempts[0]["url"].endswith(f"/Items/{item}")
    assert attempts[0]["connection_reused"] is False and attempts[2]["connection_reused"] is True
    assert all(a["duration_ms"] > 0 for a in attempts)
    assert result["server_header"] == "Kestrel"
    assert len(result["diagnosis"]) == 1 and result["diagnosis"][0].startswith("No problems found")


def test_an_unknown_item_is_diagnosed_as_deleted(sim_app) -> None:
    result = sim_app.test_client().post(f"{API}/test-item", json={"item_id": UNKNOWN_ID}).get_json()
    assert (result["ok"], result["status_code"], result["requests"]) == (False, 404, 1)
    assert "error_body" in result["attempts"][0]
    found = {f["id"]: f for f in result["findings"]}
    assert list(found) == ["items_not_found"]
    assert found["items_not_found"]["evidence"]["example_item_ids"] == [UNKNOWN_ID]
    assert UNKNOWN_ID in result["diagnosis"][0]


def test_a_malformed_id_is_diagnosed_as_invalid(sim_app) -> None:
    result = sim_app.test_client().post(f"{API}/test-item", json={"item_id": "not-a-guid"}).get_json()
    assert (result["ok"], result["status_code"]) == (False, 400)
    found = {f["id"]: f for f in result["findings"]}
    assert list(found) == ["invalid_item_ids"]
    assert found["invalid_item_ids"]["evidence"]["malformed_ids"] == ["not-a-guid"]


def test_a_rejected_key_is_diagnosed_and_never_echoed(make_app, healthy_sim) -> None:
    wrong_key = "wrong-key-that-must-not-leak-42"
    app = make_app(JELLYFIN_URL=healthy_sim.url, JELLYFIN_API_KEY=wrong_key)
    answer = app.test_client().post(f"{API}/test-item", json={"item_id": healthy_sim.item_ids[0]})
    result = answer.get_json()
    assert (result["ok"], result["status_code"]) == (False, 401)
    found = {f["id"]: f for f in result["findings"]}
    assert list(found) == ["key_rejected"]
    assert found["key_rejected"]["evidence"]["rejected"] == 1 and found["key_rejected"]["evidence"]["accepted"] == 0
    assert wrong_key not in answer.get_data(as_text=True)


def test_a_persistently_broken_item_shows_every_retry(make_app, mixed_sim) -> None:
    app = make_app(JELLYFIN_URL=mixed_sim.url, JELLYFIN_API_KEY=SIM_KEY)
    broken = mixed_sim.broken_item_ids[0]
    result = app.test_client().post(f"{API}/test-item", json={"item_id": broken}).get_json()
    assert (result["ok"], result["status_code"]) == (False, 500)
    assert [a["attempt"] for a in result["attempts"]] == [1, 2, 3]
    assert all(a["status_code"] == 500 for a in result["attempts"])
    found = {f["id"]: f for f in result["findings"]}
    assert list(found) == ["item_server_errors"]
    assert found["item_server_errors"]["evidence"]["attempts_per_item"] == {broken: 3}
    assert not any("Custom ID Test" in line or "individual processing" in line for line in result["diagnosis"])


def test_server_and_key_can_come_from_the_request(make_app, healthy_sim) -> None:
    client = make_app().test_client()
    answer = client.post(f"{API}/test-item", json={"item_id": healthy_sim.item_ids[1], "server": healthy_sim.url,
                                                     "api_key": SIM_KEY})
    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    assert SIM_KEY not in answer.get_data(as_text=True)


def test_an_unreachable_server_is_a_network_diagnosis(make_app) -> None:
    app = make_app(JELLYFIN_URL="http://127.0.0.1:9", JELLYFIN_API_KEY=SIM_KEY)
    result = app.test_client().post(f"{API}/test-item", json={"item_id": UNKNOWN_ID}).get_json()
    assert result["ok"] is False and result["status_code"] is None
    assert [a["error_type"] for a in result["attempts"]] == ["ConnectError"] * 3
    found = {f["id"]: f for f in result["findings"]}
    assert list(found) == ["server_unavailable"]
    assert found["server_unavailable"]["evidence"]["status_codes"] == {"ConnectError": 3}


@pytest.mark.parametrize(("settings", "body", "needle"), [
    ({}, {"item_id": UNKNOWN_ID}, "No Jellyfin server is configured"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "configured-key"},
     {"item_id": UNKNOWN_ID, "server": "http://127.0.0.1:10"}, "send both server and api_key"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {"item_id": "../../etc"}, "item_id must be"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {"item_id": "x" * 129}, "item_id must be"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {}, "item_id must be"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {"item_id": 5}, "item_id must be a non-empty string"),
    ({}, {"item_id": UNKNOWN_ID, "server": "ftp://x", "api_key": "k"}, "http:// or https://"),
    ({}, None, "JSON object"),
])
def test_bad_test_requests_are_400(make_app, settings, body, needle) -> None:
    client = make_app(**settings).test_client()
    answer = client.post(f"{API}/test-item", json=body) if body is not None else client.post(f"{API}/test-item")
    assert answer.status_code == 400
    assert needle in answer.get_json()["error"]["message"]
    assert "configured-key" not in answer.get_data(as_text=True)


def test_with_debug_on_the_test_leaves_a_job_file(make_app, job_dir, healthy_sim) -> None:
    pipeline = setup(job_dir, switch=DebugSwitch(job_dir))
    pipeline.switch.enable(5)
    try:
        client = make_app(JELLYFIN_URL=healthy_sim.url, JELLYFIN_API_KEY=SIM_KEY).test_client()
        result = client.post(f"{API}/test-item", json={"item_id": healthy_sim.item_ids[5]}).get_json()
    finally:
        pipeline.switch.disable()
    assert result["ok"] is True and result["job_file"]
    listed = client.get(f"{API}/jobs").get_json()["jobs"]
    assert [(j["job_id"], j["filename"], j["total_requests"]) for j in listed] == [
        (result["job_id"], result["job_file"], 3)]
    assert SIM_KEY.encode() not in (job_dir / result["job_file"]).read_bytes()
