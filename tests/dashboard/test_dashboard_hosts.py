"""DNS rebinding and forged requests: the Host allow-list, the Origin check and the token (Flask test client).

A rebinding page on ``evil.example`` makes its own name resolve to 127.0.0.1;
its requests then reach the dashboard with ``Host: evil.example:PORT`` and a
matching ``Origin``, and no token. They must get nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from batch_debug.collector.switch import DebugSwitch
from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.hosts import AllowedHosts, split_host
from dashboard_helpers import API, RECORDED_JOB

TOKEN = "hosts-test-t0ken"
EVIL = "evil.example:8000"
REBINDING = {"Host": EVIL, "Origin": f"http://{EVIL}"}

# Every route, as the attacker would call it.
ATTACKS = [
    ("POST", f"{API}/enable", {"json": {"duration_minutes": 1440}}),
    ("POST", f"{API}/disable", {}),
    ("GET", f"{API}/status", {}),
    ("GET", f"{API}/jobs", {}),
    ("GET", f"{API}/job/{RECORDED_JOB}/summary", {}),
    ("GET", f"{API}/job/{RECORDED_JOB}/full-log", {}),
    ("GET", f"{API}/job/{RECORDED_JOB}/trace", {}),
    ("DELETE", f"{API}/cleanup?days=0", {}),
    ("POST", f"{API}/test-item", {"json": {"item_id": "0123456789abcdef0123456789abcdef"}}),
    ("GET", f"{API}/openapi.json", {}),
    ("POST", "/v1/traces", {"json": {"resourceSpans": []}}),
    ("GET", "/", {}),
    ("GET", "/healthz", {}),
    ("GET", "/no/such/page", {}),
]


def error_message(answer) -> str:
    body = answer.get_json()
    assert body["error"]["status"] == answer.status_code
    return body["error"]["message"]


@pytest.mark.parametrize(("method", "url", "kwargs"), ATTACKS, ids=[f"{m} {u}" for m, u, _ in ATTACKS])
def test_a_rebinding_page_gets_403_on_every_route(make_app, job_dir, add_job, method, url, kwargs) -> None:
    client = make_app(JELLYFIN_URL="http://127.0.0.1:9", JELLYFIN_API_KEY="configured-key").test_client()
    path = add_job(when=datetime.now(timezone.utc) - timedelta(days=30))
    answer = client.open(url, method=method, headers=REBINDING, **kwargs)
    assert answer.status_code == 403
    assert "does not answer to Host 'evil.example:8000'" in error_message(answer)
    assert RECORDED_JOB.encode() not in answer.data
    assert path.exists() and not DebugSwitch(job_dir).is_on()


def test_with_the_token_a_foreign_host_is_served_and_without_it_refused(make_app) -> None:
    """The documented remote-worker setup: the sidecar on 0.0.0.0, workers call it by any name, with the token."""
    client = make_app(API_TOKEN=TOKEN).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for host in ("sidecar:8000", "10.1.2.3:8000", EVIL):
        assert client.get(f"{API}/status", headers={"Host": host, **auth}).status_code == 200
        assert client.post(f"{API}/enable", headers={**REBINDING, "Host": host, **auth}).status_code == 200
        assert client.post("/v1/traces", json={"resourceSpans": []}, headers={"Host": host, **auth}).status_code == 200
        assert client.get(f"{API}/status", headers={"Host": host}).status_code == 403
        assert client.get("/", headers={"Host": host}).status_code == 403
    wrong = {"Host": EVIL, "Authorization": "Bearer not-the-token"}
    assert client.get(f"{API}/status", headers=wrong).status_code == 403


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "LOCALHOST:1", "localhost.:8000", "127.0.0.1",
                                  "127.0.0.1:8000", "127.8.9.10:65535", "[::1]", "[::1]:8000"])
def test_loopback_names_and_addresses_are_answered(client, host) -> None:
    assert client.get(f"{API}/status", headers={"Host": host}).status_code == 200
    assert client.post(f"{API}/enable", headers={"Host": host, "Origin": f"http://{host}"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", EVIL, "127.0.0.1.evil.example", "localhost.evil.example",
                                  "0.0.0.0:8000", "192.168.1.10", "evil.example@127.0.0.1", "127.0.0.1 x",
                                  "[::1", "::1", "localhost:99999", "localhost:8x", ""])
def test_other_hosts_are_refused(client, host) -> None:
    assert client.get(f"{API}/status", headers={"Host": host}).status_code == 403
    assert client.get("/", headers={"Host": host}).status_code == 403


def test_a_request_without_host_is_refused(app) -> None:
    environ = EnvironBuilder(path=f"{API}/status", base_url="http://127.0.0.1:8000/").get_environ()
    del environ["HTTP_HOST"]  # an HTTP/1.0 request: the server's own name must not stand in for it
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("403 ")


@pytest.mark.parametrize(("headers", "status"), [
    ({"Host": "127.0.0.1:8000", "X-Forwarded-Host": "evil.example"}, 403),  # a proxy passing a rebinding name on
    ({"Host": "127.0.0.1:8000", "X-Forwarded-Host": "evil.example, nas.example"}, 403),
    ({"Host": EVIL, "X-Forwarded-Host": "localhost"}, 403),  # never stands in for the Host
    ({"Host": "127.0.0.1:8000", "X-Forwarded-Host": "nas.example"}, 200),
    ({"Host": "127.0.0.1:8000", "X-Forwarded-Host": "localhost:8000"}, 200),
])
def test_a_forwarded_host_must_be_allowed_too(make_app, headers, status) -> None:
    client = make_app(ALLOWED_HOSTS=["nas.example"]).test_client()
    assert client.get(f"{API}/status", headers=headers).status_code == status


def test_names_in_allowed_hosts_are_answered(make_app) -> None:
    client = make_app(ALLOWED_HOSTS=["debug.example.lan"]).test_client()
    assert client.get(f"{API}/status", headers={"Host": "debug.example.lan:8000"}).status_code == 200
    assert client.get(f"{API}/status", headers={"Host": "DEBUG.example.lan"}).status_code == 200
    assert client.get(f"{API}/status", headers={"Host": "other.example.lan"}).status_code == 403


def test_allowed_hosts_come_from_the_environment(clean_env, job_dir, monkeypatch) -> None:
    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_ALLOWED_HOSTS", "nas.example, debug.example.lan")
    client = create_app({"DEBUG_DIR": str(job_dir)}).test_client()
    for host, status in (("nas.example", 200), ("debug.example.lan:8000", 200), (EVIL, 403)):
        assert client.get("/healthz", headers={"Host": host}).status_code == status, host


@pytest.mark.parametrize(("headers", "status"), [
    ({"Host": "localhost:8000", "Origin": "http://localhost:8000"}, 200),
    ({"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000"}, 200),
    ({"Host": "localhost", "Origin": "http://localhost:80"}, 200),
    # Another web app on this machine (another port) is another origin.
    ({"Host": "localhost:8000", "Origin": "http://localhost:3000"}, 403),
    ({"Host": "localhost:8000", "Origin": "http://127.0.0.1:8000"}, 403),
    ({"Host": "localhost:8000", "Origin": f"http://{EVIL}"}, 403),
    ({"Host": "localhost:8000", "Origin": "null"}, 403),
    ({"Host": "localhost:8000", "Origin": "file://"}, 403),
    ({"Host": "localhost:8000", "Origin": "http://localhost:8000/path"}, 403),
    # Behind a reverse proxy: the public name in X-Forwarded-Host counts only when it is allowed.
    ({"Host": "127.0.0.1:8000", "X-Forwarded-Host": "nas.example", "Origin": "https://nas.example"}, 200),
    ({"Host": "nas.example", "Origin": "https://nas.example"}, 200),
    ({"Host": "127.0.0.1:8000", "X-Forwarded-Host": "evil.example", "Origin": "http://evil.example"}, 403),
    ({"Host": EVIL, "X-Forwarded-Host": "localhost:8000", "Origin": "http://localhost:8000"}, 403),
    ({"Host": EVIL, "X-Forwarded-Host": "nas.example", "Origin": "https://nas.example"}, 403),
], ids=lambda value: str(value) if isinstance(value, int) else "|".join(f"{k}={v}" for k, v in value.items()))
def test_state_changes_need_the_dashboards_own_origin(make_app, job_dir, headers, status) -> None:
    client = make_app(ALLOWED_HOSTS=["nas.example"]).test_client()
    answer = client.post(f"{API}/enable", headers=headers)
    assert answer.status_code == status
    assert DebugSwitch(job_dir).is_on() is (status == 200)


def test_reads_without_origin_from_scripts_and_the_cli_still_work(client) -> None:
    assert client.get(f"{API}/status").status_code == 200
    assert client.post(f"{API}/enable", json={"duration_minutes": 5}).status_code == 200


@pytest.mark.parametrize(("value", "expected"), [
    ("localhost:8000", ("localhost", 8000)), ("[::1]:80", ("::1", 80)), ("Example.LAN.", ("example.lan", None)),
    ("a:b:c", None), ("[::1]x", None), ("host:", None), (":80", None), ("h/x", None), ("h:٣", None),
])
def test_split_host(value, expected) -> None:
    found = split_host(value)
    assert (tuple(found) if found else None) == expected


def test_allowed_hosts_never_match_a_name_that_merely_contains_an_allowed_one() -> None:
    allowed = AllowedHosts(["nas.example"])
    assert not allowed.allows_host("nas.example.evil.example")
    assert not allowed.allows_host("evilnas.example")
    assert not allowed.allows_origin("https://nas.example.evil.example", ["nas.example.evil.example"])
