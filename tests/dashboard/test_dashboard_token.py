"""Who may call the API: with a token every route needs it, and a browser's cross-origin state change is
refused with or without one (Flask test client)."""

from __future__ import annotations

from batch_debug.collector.switch import DebugSwitch
from dashboard_helpers import API, error_of

TOKEN = "t0ken-for-the-dashboard-tests"


def api_routes(app) -> list[tuple[str, str]]:
    """(method, concrete URL) of every /api/ route, with a sample job id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule.replace("<path:job_id>", "some-job")))
    return routes


def test_with_a_token_every_api_route_needs_it(make_app) -> None:
    app = make_app(API_TOKEN=TOKEN)
    client = app.test_client()
    routes = api_routes(app)
    # enable disable status jobs compare summary failed-ids requests full-log trace correlate har cleanup
    # test-item openapi
    assert len(routes) == 15
    for method, url in routes:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": TOKEN}):
            answer = client.open(url, method=method, headers=headers)
            assert answer.status_code == 401, (method, url, headers)
            assert answer.headers["WWW-Authenticate"].lower().startswith("bearer")
            assert TOKEN not in answer.get_data(as_text=True)
            error_of(answer)


def test_with_the_right_token_the_api_answers(make_app) -> None:
    client = make_app(API_TOKEN=TOKEN).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get(f"{API}/status", headers=auth).status_code == 200
    assert client.post(f"{API}/enable", headers=auth, json={"duration_minutes": 2}).status_code == 200
    assert client.get(f"{API}/job/none/summary", headers=auth).status_code == 404
    # The page and the health check hold no data and stay open.
    assert client.get("/").status_code == 200
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_token_comes_from_the_environment_by_default(clean_env, job_dir, monkeypatch) -> None:
    from batch_debug.dashboard.app import create_app

    monkeypatch.setenv("APHRODITE_BATCH_DEBUG_TOKEN", TOKEN)
    client = create_app({"DEBUG_DIR": str(job_dir)}).test_client()
    assert client.get(f"{API}/status").status_code == 401
    assert client.get(f"{API}/status", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_cross_origin_state_changes_are_refused(make_app, job_dir) -> None:
    client = make_app(ALLOWED_HOSTS=["nas.example"]).test_client()
    answer = client.post(f"{API}/enable", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403
    assert "Cross-origin" in error_of(answer)["message"]
    assert not DebugSwitch(job_dir).is_on()
    assert client.delete(f"{API}/cleanup?days=0", headers={"Origin": "null"}).status_code == 403
    same = client.post(f"{API}/enable", headers={"Origin": "http://localhost"})
    assert same.status_code == 200
    proxied = client.post(f"{API}/disable", headers={"Origin": "https://nas.example",
                                                     "X-Forwarded-Host": "nas.example"})
    assert proxied.status_code == 200


def test_with_the_token_the_origin_does_not_matter(make_app) -> None:
    client = make_app(API_TOKEN=TOKEN).test_client()
    foreign = {"Origin": "https://proxy.example"}
    assert client.post(f"{API}/enable", headers=foreign).status_code == 403  # a browser's forged request
    assert client.post(f"{API}/enable", headers={"Origin": "http://localhost"}).status_code == 401
    assert client.post(f"{API}/enable", headers={**foreign, "Authorization": f"Bearer {TOKEN}"}).status_code == 200
