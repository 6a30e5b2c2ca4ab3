"""Custom ID Test: which server it calls and with which key, for every combination of configuration and request."""

from __future__ import annotations

import pytest

from batch_debug.dashboard.testitem import TargetRefused, choose_target
from dashboard_helpers import API, SIM_KEY


def _run(app, body: dict, headers: dict | None = None):
    return app.test_client().post(f"{API}/test-item", json=body, headers=headers or {})


# -- which server and which key: every combination of configuration and request -----------------

CONFIGURED = "http://jf.example:8096"
OTHER = "http://other.example:8096"
CONFIGS = {"url+key": (CONFIGURED, "conf-key"), "url only": (CONFIGURED, None), "key only": (None, "conf-key"),
           "none": (None, None)}


def _expected(config: str, server: str | None, key: str | None, token: bool) -> tuple[int, str] | tuple[str, str]:
    """What the rules say: (server, key) used, or (status, the words the refusal must contain)."""
    url, configured_key = CONFIGS[config]
    other = server is not None and server.rstrip("/") != (url or "")
    if other and not token:
        return 403, ("talks only to the configured Jellyfin (JELLYFIN_URL=http://jf.example:8096)" if url else
                     "none is configured (JELLYFIN_URL is not set)")
    if other:
        if not key:
            return 400, ("api_key is required when server names a server other than the configured one" if url
                         else "api_key is required with server: no Jellyfin server is configured")
        return server, key  # type: ignore[return-value]
    if not url:
        return 400, ("No Jellyfin server is configured: JELLYFIN_URL is not set (JELLYFIN_API_KEY is)"
                     if configured_key else "No Jellyfin server is configured: JELLYFIN_URL and JELLYFIN_API_KEY")
    if not (key or configured_key):
        return 400, "JELLYFIN_API_KEY is not set: the configured server JELLYFIN_URL=http://jf.example:8096 has no key"
    return server or url, key or configured_key  # type: ignore[return-value]


@pytest.mark.parametrize("token", [False, True], ids=["no token", "token"])
@pytest.mark.parametrize("key", [None, "req-key"], ids=["no key", "key"])
@pytest.mark.parametrize("server", [None, CONFIGURED, CONFIGURED + "/", OTHER],
                         ids=["no server", "same server", "same server/", "other server"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_the_configured_key_goes_only_with_the_configured_server(config, server, key, token) -> None:
    url, configured_key = CONFIGS[config]
    expected = _expected(config, server, key, token)
    if isinstance(expected[0], int):
        with pytest.raises(TargetRefused) as refused:
            choose_target(server, key, configured_url=url, configured_key=configured_key, any_server=token)
        assert (refused.value.status, expected[1] in str(refused.value)) == (expected[0], True), str(refused.value)
    else:
        assert choose_target(server, key, configured_url=url, configured_key=configured_key,
                             any_server=token) == expected
    if server == OTHER:  # whatever happens, the configured key never goes to another server
        try:
            assert "conf-key" not in choose_target(server, key, configured_url=url, configured_key=configured_key,
                                                   any_server=token)
        except TargetRefused:
            pass


def test_a_refusal_quotes_the_configured_url_without_its_credentials() -> None:
    with pytest.raises(TargetRefused) as refused:
        choose_target(None, None, configured_url="http://admin:hunter2@jf.example:8096", configured_key=None,
                      any_server=False)
    message = str(refused.value)
    assert "JELLYFIN_URL=http://[REDACTED]@jf.example:8096 has no key" in message and "hunter2" not in message


def test_a_configured_server_without_a_key_runs_with_the_key_the_request_brings(make_app, healthy_sim) -> None:
    app = make_app(JELLYFIN_URL=healthy_sim.url)
    before = healthy_sim.stats()["total"]
    without = _run(app, {"item_id": healthy_sim.item_ids[4]})
    assert without.status_code == 400
    message = without.get_json()["error"]["message"]
    assert message.startswith(f"JELLYFIN_API_KEY is not set: the configured server JELLYFIN_URL={healthy_sim.url}")
    assert "No Jellyfin server is configured" not in message and healthy_sim.stats()["total"] == before
    answer = _run(app, {"item_id": healthy_sim.item_ids[4], "api_key": SIM_KEY})
    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    assert SIM_KEY not in answer.get_data(as_text=True)
