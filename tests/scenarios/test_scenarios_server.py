"""The server side misbehaves: the job file names the cause the simulator really produced.

Each shape runs with the reference worker and with a job written from
scratch (asyncio + gather, or threads sharing one client), and every file is
checked against the simulator's ground truth (``sim.truth()``, ``stats()``).
"""

from __future__ import annotations

import pytest

from batch_debug.jellyfin.shapes import Shapes
from scenario_checks import check_common, load, served_by_job, statuses
from scenario_jobs import STYLES
from support import API_KEY


@pytest.mark.parametrize("style", ["reference", "gather"])
def test_a_proxy_outage_is_a_window_answered_by_the_proxy_not_bad_items(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(proxy_outage=(12, 18)))
    ids = sim.item_ids[:24]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"outage-{style}", concurrency=4)
    data = load(debug_pipeline, f"outage-{style}")
    truth = sim.truth()["proxy_502"]
    assert truth["answered"] == 18
    found = check_common(data, outcome.sent, forbidden=("item_server_errors", "transient_server_errors"))
    assert statuses(data)["502"] == truth["answered"]
    windows = [f for f in data["summary"]["findings"] if f["id"] == "outage_window"]
    assert windows and sum(w["evidence"]["attempts"] for w in windows) == truth["answered"]
    assert all(w["evidence"]["items"] >= 3 and w["evidence"]["signature"] == "502" for w in windows)
    proxy = found["proxy_answered"]["evidence"]
    assert proxy["answered_by"] == {"proxy": truth["answered"]}
    assert proxy["proxy_servers"] == {"nginx/1.25.3": truth["answered"]}
    assert proxy["page_title"] == "502 Bad Gateway" and proxy["jellyfin_servers"] == ["Kestrel"]
    page = next(r for r in data["requests"] if r["status_code"] == 502 and r["method"] == "GET")
    assert "upstream server is temporarily unavailable" in page["error_body"]  # past the 2 KB of CSS
    assert "{" not in page["error_body"] and "<" not in page["error_body"]  # no styles, no markup
    assert page["error_body_bytes"] > 2048


@pytest.mark.parametrize("style", ["reference", "gather"])
def test_a_server_that_dies_mid_job_went_down_at_that_moment(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(die_after=30))
    ids = sim.item_ids[:30]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"dies-{style}", concurrency=4, timeout=2.0)
    data = load(debug_pipeline, f"dies-{style}")
    truth = sim.truth()["died"]
    served = served_by_job(sim)
    assert truth["dead"] and truth["after"] == 30
    found = check_common(data, outcome.sent, forbidden=("stale_connections", "connection_dropped",
                                                        "connect_failures", "outage_window"))
    down = found["server_went_down"]["evidence"]
    answered = sum(1 for r in served if r["status"] is not None)
    assert answered == 30 and statuses(data)["200"] == 30
    # Everything after the last answer failed: dropped in flight (recorded by the server) or refused.
    assert down["attempts"] == outcome.sent - 30
    # Refused at connect, or dropped on a kept-alive connection the dying server closed before reading it.
    never_read = outcome.sent - len(served)
    assert 0 < statuses(data)["ConnectError"] <= never_read
    assert down["first_failure_ms"] >= down["last_success_ms"]


@pytest.mark.parametrize("style", ["reference", "threads"])
def test_followed_redirects_are_hops_not_failures(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(redirect_images=True))
    ids = sim.item_ids[:10]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"redirects-{style}", concurrency=4)
    data = load(debug_pipeline, f"redirects-{style}")
    summary = data["summary"]
    hops = sim.truth()["redirects"]
    check_common(data, outcome.sent + hops)  # the client counts a followed redirect once
    assert statuses(data)["302"] == hops > 0
    assert summary["failed_requests"] == 0 and summary["success_rate_percent"] == 100.0
    assert summary["findings"] == [] and summary["recommendations"][0].startswith("No problems found")
    hop = next(r for r in data["requests"] if r["status_code"] == 302)
    assert hop["redirect_to"].startswith("/cdn/posters/")


@pytest.mark.parametrize("style", ["reference", "threads"])
def test_a_server_that_closes_every_connection_is_not_called_client_churn(debug_pipeline, make_sim,
                                                                          style) -> None:
    sim = make_sim("healthy", shapes=Shapes(connection_close=True))
    ids = sim.item_ids[:12]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"close-{style}", concurrency=2)
    data = load(debug_pipeline, f"close-{style}")
    found = check_common(data, outcome.sent, forbidden=("connection_churn",))
    closing = found["server_closes_connections"]["evidence"]
    closed = sum(1 for r in served_by_job(sim) if r["fault"] == "connection_close")
    assert closing["connection_close"] == closed == outcome.sent
    assert data["summary"]["connections"]["new"] == outcome.sent  # the server left no choice


@pytest.mark.parametrize("style", ["reference", "threads"])
def test_idle_connections_dropped_on_reuse_are_stale_connections(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(idle_drop_every=4))
    ids = sim.item_ids[:16]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"idle-{style}", concurrency=2)
    data = load(debug_pipeline, f"idle-{style}")
    dropped = sim.truth()["idle_drop"]["count"]
    found = check_common(data, outcome.sent, forbidden=("server_went_down", "outage_window", "connection_dropped"))
    stale = found["stale_connections"]["evidence"]
    assert stale["attempts"] == stale["reused_connection"] == dropped > 0
    assert stale["recovered_items"] == stale["items"]  # the retry on a new connection worked
    assert data["summary"]["items_failed"] == 0
