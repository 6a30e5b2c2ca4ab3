"""The job's own life, and healthy jobs: a crash is never clean, work outside the job is hinted at,
and a healthy job of any size or concurrency gets no advice at all."""

from __future__ import annotations

import pytest

from scenario_checks import check_common, load, served_by_job
from scenario_jobs import STYLES, JobCrashed
from support import API_KEY


@pytest.mark.parametrize("style", ["reference", "gather", "threads"])
def test_a_job_whose_code_raised_is_never_called_clean(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy")
    ids = sim.item_ids[:40]
    with pytest.raises(JobCrashed):
        STYLES[style](sim.url, API_KEY, ids, f"crash-{style}", concurrency=4 if style != "reference" else 1,
                      crash_after=20)
    data = load(debug_pipeline, f"crash-{style}")
    summary = data["summary"]
    sent = len(served_by_job(sim))
    found = check_common(data, sent if style != "gather" else summary["total_requests"])
    assert data["complete"] is False and summary["complete"] is False
    assert data["job_error"]["type"] == "JobCrashed" and "item 20" in data["job_error"]["message"]
    assert summary["items_total"] == 40  # as declared, not as started
    assert (summary["items_succeeded"] + summary["items_failed"] + summary["items_unfinished"]
            + summary["items_not_started"]) == 40
    assert summary["items_not_started"] > 0
    # Nothing but the crash (and requests it abandoned when the job closed its client) is reported.
    assert set(found) <= {"job_crashed", "requests_aborted"}
    if style != "gather":  # the main loop stopped after exactly 20 items
        assert (summary["items_started"], summary["items_succeeded"], summary["items_not_started"]) == (20, 20, 20)
        assert summary["items_failed"] == 0
    evidence = found["job_crashed"]["evidence"]
    assert evidence["error_type"] == "JobCrashed" and evidence["items_declared"] == 40
    assert not summary["recommendations"][0].startswith("No problems")


def test_threads_started_without_the_jobs_context_are_pointed_out(debug_pipeline, make_sim) -> None:
    sim = make_sim("healthy")
    ids = sim.item_ids[:12]
    outcome = STYLES["threads"](sim.url, API_KEY, ids, "no-context", concurrency=4, copy_context=False)
    data = load(debug_pipeline, "no-context")
    summary = data["summary"]
    found = check_common(data, 0, forbidden=("items_not_started",))
    evidence = found["requests_outside_job"]["evidence"]
    assert evidence["requests_outside_jobs"] == outcome.sent == len(served_by_job(sim)) == 24
    assert evidence["requests_recorded"] == 0 and evidence["items_declared"] == 12
    assert found["requests_outside_job"]["confidence"] == "high"
    assert summary["requests_outside_jobs"] == 24


@pytest.mark.parametrize("style", ["reference", "gather", "threads"])
def test_a_healthy_200_item_job_at_8_way_concurrency_gets_no_advice(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy")
    outcome = STYLES[style](sim.url, API_KEY, sim.item_ids[:200], f"healthy200-{style}", concurrency=8)
    data = load(debug_pipeline, f"healthy200-{style}")
    check_common(data, outcome.sent)
    summary = data["summary"]
    assert summary["findings"] == [], summary["recommendations"]
    assert len(summary["recommendations"]) == 1 and summary["recommendations"][0].startswith("No problems found")
    assert summary["success_rate_percent"] == 100.0 and summary["items_succeeded"] == 200
    assert summary["connections"]["new"] <= 8 + 1 < summary["connections"]["reused"]


@pytest.mark.parametrize("style", ["reference", "gather", "threads"])
def test_a_12_item_rerun_at_8_way_gets_no_connection_advice(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy")
    outcome = STYLES[style](sim.url, API_KEY, sim.item_ids[:12], f"rerun-{style}", concurrency=8)
    data = load(debug_pipeline, f"rerun-{style}")
    check_common(data, outcome.sent)
    summary = data["summary"]
    assert summary["findings"] == [], summary["recommendations"]
    assert 1 <= summary["connections"]["new"] <= summary["peak_concurrency"] <= 8
