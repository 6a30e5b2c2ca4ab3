"""The body phase: a download is recorded to its last byte, and a body that breaks off fails the attempt.

Reference worker and jobs written from scratch, each against the simulator's
ground truth. Stalls are short (the client's read timeout is 0.3 s) so the
whole file runs in a few seconds.
"""

from __future__ import annotations

import pytest

from batch_debug.jellyfin.shapes import Shapes
from scenario_checks import check_common, load, served_by_job, statuses
from scenario_jobs import STYLES
from support import API_KEY

MB = 1 << 20


@pytest.mark.parametrize("style", ["reference", "gather"])
def test_a_body_that_stalls_is_a_failed_attempt_not_a_200(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(body_stall_every=3, stall_seconds=2.0))
    ids = sim.item_ids[:9]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"stall-{style}", concurrency=8, timeout=0.3)
    data = load(debug_pipeline, f"stall-{style}")
    truth = sim.truth()["body_stall"]
    found = check_common(data, outcome.sent, forbidden=("worker_side_failures", "no_response_timeout"))
    stalled = [r for r in data["requests"] if r.get("error_phase") == "body"]
    assert len(stalled) == truth["count"] > 0
    assert all(r["status_code"] == 200 and r["error_type"] == "ReadTimeout" for r in stalled)
    assert {r["item_id"] for r in stalled} == set(truth["item_ids"])
    assert all(0 < r["body_bytes"] < r["error_body_bytes"] if "error_body_bytes" in r else r["body_bytes"] > 0
               for r in stalled)
    assert statuses(data)["ReadTimeout"] == truth["count"]
    summary = data["summary"]
    assert summary["failed_requests"] == truth["count"] and summary["success_rate_percent"] < 100
    evidence = found["body_stalled"]["evidence"]
    assert evidence["attempts"] == truth["count"] and evidence["items"] == len(truth["item_ids"])
    assert evidence["bytes_before_failure"] > 0 and evidence["phase"] == "body"
    assert sorted(outcome.failed_items) == sorted(truth["item_ids"])


@pytest.mark.parametrize("style", ["reference", "threads"])
def test_a_body_cut_off_mid_transfer_is_named_so(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(body_drop_every=4))
    ids = sim.item_ids[:12]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"cut-{style}", concurrency=4)
    data = load(debug_pipeline, f"cut-{style}")
    truth = sim.truth()["body_drop"]
    found = check_common(data, outcome.sent, forbidden=("worker_side_failures", "connection_dropped"))
    cut = [r for r in data["requests"] if r.get("error_phase") == "body"]
    assert len(cut) == truth["count"] > 0
    assert all(r["status_code"] == 200 and r["body_bytes"] > 0 for r in cut)
    evidence = found["body_cut_off"]["evidence"]
    assert evidence["attempts"] == truth["count"] and evidence["items"] == len(truth["item_ids"])


@pytest.mark.parametrize("style", ["threads", "gather"])
def test_an_answer_that_never_starts_is_a_wait_for_headers(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(headers_stall_every=4, stall_seconds=2.0))
    ids = sim.item_ids[:8]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"noanswer-{style}", concurrency=8, timeout=0.3)
    data = load(debug_pipeline, f"noanswer-{style}")
    truth = sim.truth()["headers_stall"]
    found = check_common(data, outcome.sent, forbidden=("body_stalled", "stale_connections"))
    evidence = found["no_response_timeout"]["evidence"]
    assert evidence["attempts"] == truth["count"] == statuses(data)["ReadTimeout"] > 0
    assert evidence["phase"] == "headers" and set(evidence["example_item_ids"]) == set(truth["item_ids"])


@pytest.mark.parametrize("style", ["reference", "threads"])
def test_large_images_are_timed_to_their_last_byte_and_need_no_advice(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(image_bytes=5 * MB))
    ids = sim.item_ids[:4]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"large-{style}", concurrency=4)
    data = load(debug_pipeline, f"large-{style}")
    check_common(data, outcome.sent)
    images = [r for r in data["requests"] if r["route"].endswith("/Images/{imageType}") and r["method"] == "GET"]
    assert len(images) == 4
    for record in images:
        assert record["body_bytes"] == 5 * MB
        assert record["duration_ms"] >= record["body_ms"] > 0  # the download, not only the headers
        assert record["duration_ms"] >= record["ttfb_ms"]
    assert data["summary"]["findings"] == []


@pytest.mark.parametrize("style", ["reference", "gather"])
def test_slow_downloads_are_judged_on_throughput(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(image_bytes=3 * MB // 2, image_rate=MB))
    ids = sim.item_ids[:3]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"slow-{style}", concurrency=3)
    data = load(debug_pipeline, f"slow-{style}")
    found = check_common(data, outcome.sent, forbidden=("slow_responses",))  # the answers started in time
    evidence = found["slow_transfers"]["evidence"]
    assert evidence["large_bodies"] == 3
    assert 0.5 * MB < evidence["throughput_bytes_per_s"] < 1.6 * MB
    assert len(served_by_job(sim)) == outcome.sent
