"""The Custom ID Test (POST /test-item) against a real Jellyfin simulator, and its bounds: a body cap,
a deadline, a cap on runs at once, and only the configured server without a token (no SSRF)."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import setup
from batch_debug.jellyfin.shapes import Shapes
from dashboard_helpers import API, SIM_KEY
from support import API_KEY, Answer, LoopbackServer

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "test-item-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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
    words = f"System.IO.IOException: Input/output error reading '/config/metadata/library/{broken[:2]}/{broken}/poster.jpg'"
    assert found["item_server_errors"]["evidence"]["server_said"] == [words]  # the server's own words, whole
    assert f"Jellyfin answered \u201c{words}\u201d (3 attempts)" in result["diagnosis"][0]
    assert not any("Custom ID Test" in line or "individual processing" in line for line in result["diagnosis"])


def test_with_a_token_server_and_key_can_come_from_the_request(make_app, healthy_sim) -> None:
    client = make_app(API_TOKEN=TOKEN).test_client()
    answer = client.post(f"{API}/test-item", json={"item_id": healthy_sim.item_ids[1], "server": healthy_sim.url,
                                                     "api_key": SIM_KEY}, headers=AUTH)
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
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "configured-key", "API_TOKEN": TOKEN},
     {"item_id": UNKNOWN_ID, "server": "http://127.0.0.1:10"},
     "api_key is required when server names a server other than the configured one"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9"}, {"item_id": UNKNOWN_ID}, "JELLYFIN_API_KEY is not set"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {"item_id": "../../etc"}, "item_id must be"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {"item_id": "x" * 129}, "item_id must be"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {}, "item_id is missing: it must be a string"),
    ({"JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_API_KEY": "k"}, {"item_id": 5}, "item_id must be a string of 1 to 128"),
    ({}, {"item_id": UNKNOWN_ID, "server": "ftp://x", "api_key": "k"}, "http:// or https://"),
    ({}, None, "JSON object"),
])
def test_bad_test_requests_are_400(make_app, settings, body, needle) -> None:
    client = make_app(**settings).test_client()
    headers = AUTH if settings.get("API_TOKEN") else {}
    answer = (client.post(f"{API}/test-item", json=body, headers=headers) if body is not None
              else client.post(f"{API}/test-item", headers=headers))
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


# -- bounds: body cap, deadline, concurrency, and which servers it may call ----------------------

def _run(app, body: dict, headers: dict | None = None):
    answer = app.test_client().post(f"{API}/test-item", json=body, headers=headers or {})
    return answer


def test_a_body_over_the_cap_fails_the_item_and_is_not_read_whole(make_app, make_sim) -> None:
    sim = make_sim("healthy", shapes=Shapes(image_bytes=4 << 20))
    app = make_app(JELLYFIN_URL=sim.url, JELLYFIN_API_KEY=API_KEY, TEST_ITEM_MAX_BODY_BYTES=64 << 10)
    result = _run(app, {"item_id": sim.item_ids[0]}).get_json()
    assert (result["ok"], result["status_code"]) == (False, 200)
    assert "larger than the cap of 65536 bytes" in result["error"]
    assert result["limits"]["max_body_bytes"] == 65536
    download = result["attempts"][-1]
    assert (download["method"], download["attempt"]) == ("GET", 1)  # not retried
    assert download["body_bytes"] < 4 << 20 and download["body_bytes"] <= (64 << 10) + (64 << 10)
    assert result["requests"] == 3 and result["size_bytes"] == 0


def test_a_trickling_body_ends_at_the_deadline(make_app, make_sim) -> None:
    sim = make_sim("healthy", shapes=Shapes(image_bytes=1 << 20, image_rate=2048))  # 512 s at that rate
    app = make_app(JELLYFIN_URL=sim.url, JELLYFIN_API_KEY=API_KEY, TEST_ITEM_DEADLINE_SECONDS=1.0)
    result = _run(app, {"item_id": sim.item_ids[0]}).get_json()
    assert result["ok"] is False
    assert "deadline of 1 s passed" in result["error"]
    assert result["limits"]["deadline_seconds"] == 1.0
    assert result["attempts"][-1]["body_bytes"] < 1 << 20


class _TricklingErrors:
    """A server whose every answer is a 500 with a 100 kB body sent a byte at a time, 50 bytes a second."""

    def __init__(self) -> None:
        stop = self.stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                self.send_response(500)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    while not stop.wait(0.02):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                except OSError:
                    pass  # the client hung up

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_trickling_error_body_read_by_the_recorder_ends_at_the_deadline(make_app) -> None:
    """An error body is read ahead inside the transport, where no check sits between chunks: the watchdog ends it."""
    server = _TricklingErrors()
    try:
        app = make_app(JELLYFIN_URL=server.url, JELLYFIN_API_KEY=API_KEY, TEST_ITEM_DEADLINE_SECONDS=1.0)
        result = _run(app, {"item_id": UNKNOWN_ID}).get_json()
    finally:
        server.close()
    assert result["ok"] is False
    assert "deadline of 1 s passed" in result["error"]
    assert result["requests"] == 1


def test_runs_past_the_concurrency_cap_are_429(make_app, make_sim) -> None:
    sim = make_sim("healthy", shapes=Shapes(image_bytes=1 << 20, image_rate=2048))
    app = make_app(JELLYFIN_URL=sim.url, JELLYFIN_API_KEY=API_KEY, TEST_ITEM_CONCURRENCY=1,
                   TEST_ITEM_DEADLINE_SECONDS=2.0)
    first: list = []
    running = threading.Thread(target=lambda: first.append(_run(app, {"item_id": sim.item_ids[0]})))
    running.start()
    try:
        deadline = time.monotonic() + 20
        while sim.stats()["total"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the first run has reached the server, holding the only slot
        busy = _run(app, {"item_id": sim.item_ids[1]})
        assert busy.status_code == 429
        assert "already running" in busy.get_json()["error"]["message"]
        assert busy.headers["Retry-After"] == "5"
    finally:
        running.join(30)
    assert first[0].status_code == 200
    assert _run(app, {"item_id": UNKNOWN_ID}).status_code == 200  # the slot came back


class _InternalService(LoopbackServer):
    """A service on loopback that only insiders should reach: it records what it is sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

        def answer(request: http.server.BaseHTTPRequestHandler) -> Answer:
            self.seen.append(dict(request.headers.items()) | {"path": request.path})
            return 500, {"Server": "internal-svc/1.0"}, b"internal admin console: db password hunter2"

        super().__init__(answer)


@pytest.fixture
def internal_service():
    service = _InternalService()
    yield service
    service.close()


def test_without_a_token_only_the_configured_server_is_called(make_app, healthy_sim, internal_service) -> None:
    """SSRF: a caller of a dashboard without a token may not point the test at internal services."""
    app = make_app(JELLYFIN_URL=healthy_sim.url, JELLYFIN_API_KEY=SIM_KEY)
    answer = _run(app, {"item_id": UNKNOWN_ID, "server": internal_service.url, "api_key": "caller-key"})
    assert answer.status_code == 403
    assert "only to the configured Jellyfin" in answer.get_json()["error"]["message"]
    assert "hunter2" not in answer.get_data(as_text=True) and internal_service.seen == []
    same = _run(app, {"item_id": healthy_sim.item_ids[2], "server": healthy_sim.url + "/"})
    assert same.status_code == 200 and same.get_json()["ok"] is True  # the configured server, its key


def test_with_a_token_any_server_is_called_but_never_with_the_configured_key(make_app, healthy_sim,
                                                                            internal_service) -> None:
    configured_key = "configured-key-stays-home-42"
    app = make_app(JELLYFIN_URL=healthy_sim.url, JELLYFIN_API_KEY=configured_key, API_TOKEN=TOKEN)
    refused = _run(app, {"item_id": UNKNOWN_ID, "server": internal_service.url}, AUTH)
    assert refused.status_code == 400 and internal_service.seen == []
    answer = _run(app, {"item_id": UNKNOWN_ID, "server": internal_service.url, "api_key": "caller-key-123"}, AUTH)
    assert answer.status_code == 200 and answer.get_json()["status_code"] == 500
    assert internal_service.seen and all(configured_key not in str(request) for request in internal_service.seen)
    assert any("caller-key-123" in str(request) for request in internal_service.seen)
