"""Diagnosis of the job's own life (rules_job): it raised, was cut short, skipped items, ran its work outside
itself, failed in its own code; the "no problems" line; and checks across every rule's cases."""

from __future__ import annotations

import sys

import pytest

import test_diagnosis_auth
import test_diagnosis_availability
import test_diagnosis_content
import test_diagnosis_network
import test_diagnosis_items
import test_diagnosis_transport
from batch_debug.collector.diagnosis import FINDING_IDS
from batch_debug.collector.diagnosis.view import JobView
from diagnosis_records import (
    KESTREL, Job, attempt, bad_forms, broken, case, cases_in, common, healthy, item, items_of, run,
)

NO_ITEMS_EVIDENCE = common(0, [], None, {})


def life(*, ended: bool = True, declared: int | None = None, started: int | None = None,
         error: dict | None = None, outside: int = 0) -> dict:
    """The job's life as ``jobspan.job_life`` gives it."""
    return {"ended": ended, "complete": ended and error is None, "items_declared": declared,
            "items_started": started, "error": error, "requests_outside_jobs": outside}


def three_posters() -> list[dict]:
    return run(attempt("i0"), attempt("i1"), attempt("i2"))


def counts(declared: int, started: int, finished: int) -> dict:
    return {"items_declared": declared, "items_started": started, "items_finished": finished,
            "items_unfinished": started - finished, "items_not_started": declared - started}


# --- job_crashed / job_interrupted / items_not_started ---------------------------------------------------

@case("job_crashed")
def job_crashed() -> Job:
    return Job(three_posters(), life=life(declared=10, started=4, error={"type": "KeyError", "message": "'poster'"}))


@case("job_interrupted")
def job_interrupted() -> Job:
    return Job(three_posters(), life=life(ended=False, declared=10, started=5))


@case("items_not_started")
def items_not_started() -> Job:
    return Job(three_posters(), life=life(declared=10, started=3))


@case("items_unfinished")
def items_left_running() -> Job:
    return Job(three_posters(), life=life(declared=5, started=5))


def test_a_job_that_ended_with_items_still_running_says_so():
    found = items_left_running().finding("items_unfinished")
    assert found["evidence"] == NO_ITEMS_EVIDENCE | counts(5, 5, 3)
    assert (found["confidence"], items_left_running().ids) == ("medium", ["items_unfinished"])


@case("no_requests_recorded")
def items_without_requests() -> Job:
    """Items ran and failed, and no HTTP request was recorded: the job's client is not traced (urllib, a
    session made before setup())."""
    return Job([], items=[item("a"), item("b", ok=False, error="URLError: timed out")],
               life=life(declared=2, started=2))


def test_items_without_any_recorded_request_are_never_called_clean():
    job = items_without_requests()
    assert job.ids == ["no_requests_recorded"]
    found = job.finding("no_requests_recorded")
    assert found["cause"].startswith("2 items ran and the job recorded no HTTP request (1 of them failed, "
                                     "e.g. b: URLError: timed out)")
    assert found["evidence"]["item_errors"] == {"b": "URLError: timed out"} and found["confidence"] == "medium"
    clean = Job([], items=[item("a"), item("b")], life=life(declared=2, started=2))
    assert clean.ids == ["no_requests_recorded"]
    assert not any(line.startswith("No problems") for line in clean.diagnose()[1])


@case()
def items_whose_requests_ran_outside_the_job() -> Job:
    """The requests ran, outside the job's context: requests_outside_job says so, not this rule."""
    return Job([], items=[item("a")], life=life(declared=1, started=1, outside=3))


def test_requests_outside_the_job_are_not_called_untraced():
    assert items_whose_requests_ran_outside_the_job().ids == ["requests_outside_job"]


@case("requests_aborted")
def client_closed_under_requests() -> Job:
    return Job(run(attempt("a", 200), broken("b", "ReadError", "aborted"), broken("c", "ReadError", "aborted")))


def test_requests_the_job_aborted_itself_are_not_blamed_on_the_server():
    job = client_closed_under_requests()
    found = job.finding("requests_aborted")
    assert (found["evidence"]["attempts"], found["evidence"]["error_types"]) == (2, {"ReadError": 2})
    assert job.ids == ["requests_aborted"]


def test_a_job_that_raised_crashed_with_its_items_counted():
    found = job_crashed().finding("job_crashed")
    assert found["evidence"] == NO_ITEMS_EVIDENCE | counts(10, 4, 3) | {
        "error_type": "KeyError", "error_message": "'poster'", "items_failed_winding_up": []}
    assert (found["confidence"], job_crashed().ids) == ("high", ["job_crashed"])


def test_a_job_whose_span_never_ended_was_interrupted():
    found = job_interrupted().finding("job_interrupted")
    assert found["evidence"] == NO_ITEMS_EVIDENCE | counts(10, 5, 3)
    assert (found["confidence"], job_interrupted().ids) == ("high", ["job_interrupted"])


def test_a_job_that_ended_with_fewer_items_started_than_declared_left_items_not_started():
    found = items_not_started().finding("items_not_started")
    assert found["evidence"] == NO_ITEMS_EVIDENCE | counts(10, 3, 3)
    assert (found["confidence"], items_not_started().ids) == ("medium", ["items_not_started"])


@pytest.mark.parametrize("job_life", [
    life(declared=3, started=3), life(), life(declared=2),  # declaring fewer than it ran is no skip
], ids=["as-declared", "nothing-declared", "fewer-declared"])
def test_a_job_that_ended_with_its_items_done_has_no_life_finding(job_life):
    assert Job(three_posters(), life=job_life).findings == []


def test_a_crashed_job_is_not_also_interrupted_or_short_of_items():
    assert Job(three_posters(), life=life(ended=False, declared=10, started=4,
                                          error={"type": "KeyError", "message": "'poster'"})).ids == ["job_crashed"]


# --- requests_outside_job ---------------------------------------------------------------------------------

@case("requests_outside_job")
def work_outside_the_job() -> Job:
    return Job([], items=[item("a"), item("b"), item("c")], life=life(declared=3, started=3, outside=6))


@case("requests_outside_job")
def items_unseen_while_requests_ran_outside() -> Job:
    return Job(three_posters(), life=life(declared=10, started=3, outside=7))


def test_requests_outside_the_job_while_it_recorded_none_are_named():
    found = work_outside_the_job().finding("requests_outside_job")
    assert found["evidence"] == common(0, ["a", "b", "c"], None, {}) | counts(3, 3, 3) | {
        "requests_outside_jobs": 6, "requests_recorded": 0}
    assert (found["confidence"], work_outside_the_job().ids) == ("high", ["requests_outside_job"])


def test_items_not_started_while_requests_ran_outside_are_put_down_to_the_outside_requests():
    found = items_unseen_while_requests_ran_outside().finding("requests_outside_job")
    assert found["evidence"] == NO_ITEMS_EVIDENCE | counts(10, 3, 3) | {
        "requests_outside_jobs": 7, "requests_recorded": 3}
    assert (found["confidence"], items_unseen_while_requests_ran_outside().ids) == ("medium", ["requests_outside_job"])


def test_requests_outside_the_job_are_someone_elses_when_every_item_has_its_own():
    assert Job(three_posters(), life=life(declared=3, started=3, outside=4)).findings == []


# --- worker_side_failures / unexplained_failures ----------------------------------------------------------

@case("worker_side_failures")
def failed_after_the_server_answered() -> Job:
    requests = three_posters()
    return Job(requests, items=items_of(requests, failed=["i1"], error="OSError: disk full"))


@case("unexplained_failures")
def item_failed_without_a_request() -> Job:
    return Job(three_posters(), items=items_of(three_posters()) + [item("x", False, error="no poster url")])


@case("unexplained_failures")
def refusals_on_images() -> Job:
    return Job(run(attempt("a"), attempt("b", 401), attempt("c", 401), attempt("c")))


def test_an_item_failed_though_all_its_attempts_succeeded_failed_in_the_worker():
    found = failed_after_the_server_answered().finding("worker_side_failures")
    assert found["evidence"] == common(1, ["i1"], (100.0, 150.0), {"200": 1}, {KESTREL: 1}) | {
        "item_errors": {"i1": "OSError: disk full"}}
    assert (found["confidence"], failed_after_the_server_answered().ids) == ("high", ["worker_side_failures"])


def test_an_item_failed_without_any_request_is_not_the_workers_but_unexplained():
    job = item_failed_without_a_request()
    assert job.ids == ["unexplained_failures"]
    assert job.finding("unexplained_failures")["confidence"] == "low"


def test_failures_no_rule_explains_are_unexplained_with_their_evidence():
    found = refusals_on_images().finding("unexplained_failures")
    assert found["evidence"] == common(2, ["b", "c"], (100.0, 250.0), {"401": 2}, {KESTREL: 2})
    assert (found["confidence"], refusals_on_images().ids) == ("low", ["unexplained_failures"])


def test_failures_another_rule_explains_are_not_unexplained():
    job = Job(run(attempt("a"), attempt("b", 500), attempt("b", 500), attempt("c")))
    assert job.ids == ["item_server_errors"]


# --- the "no problems" line ------------------------------------------------------------------------------

def test_a_healthy_job_of_200_items_8_at_a_time_has_no_finding_and_says_so():
    job = Job(healthy(200, 8), sessions_created=1)
    assert JobView(job.requests, []).peak_concurrency == 8
    findings, recommendations = job.diagnose()
    assert findings == []
    assert len(recommendations) == 1 and recommendations[0].startswith("No problems found")


@pytest.mark.parametrize("job_life, finding_id", [
    (life(declared=200, started=200, error={"type": "RuntimeError", "message": "disk full"}), "job_crashed"),
    (life(ended=False, declared=300, started=200), "job_interrupted"),
    (life(declared=250, started=200), "items_not_started"),
])
def test_healthy_requests_of_a_job_that_did_not_finish_its_items_never_say_no_problems(job_life, finding_id):
    findings, recommendations = Job(healthy(200, 8), life=job_life, sessions_created=1).diagnose()
    assert [f["id"] for f in findings] == [finding_id]
    assert not any(line.startswith("No problems found") for line in recommendations)


# --- across every rule ------------------------------------------------------------------------------------

CASES = [fn for module in (sys.modules[__name__], test_diagnosis_availability, test_diagnosis_auth,
                           test_diagnosis_items, test_diagnosis_content, test_diagnosis_network,
                           test_diagnosis_transport)
         for fn in cases_in(module)]


def test_every_finding_id_fires_in_some_case():
    fired = {}
    for scenario in CASES:
        ids = scenario().ids
        assert set(scenario.fires) <= set(ids), scenario.__name__
        fired.update(dict.fromkeys(scenario.fires, scenario.__name__))
    assert sorted(fired) == sorted(FINDING_IDS)


def test_no_finding_says_1_items_or_item_s_or_gets_its_plural_wrong():
    texts = {}
    for scenario in CASES:
        findings, recommendations = scenario().diagnose()
        for f in findings:
            texts[f"{scenario.__name__}: {f['id']}"] = f"{f['cause']} {f['action']}"
        texts[f"{scenario.__name__}: recommendations"] = " ".join(recommendations)
    assert len(texts) > len(CASES)
    assert {name: bad_forms(text) for name, text in texts.items() if bad_forms(text)} == {}


@pytest.mark.parametrize("text, found", [
    ("with up to 1 requests in flight", ["1 requests"]), ("1 items failed", ["1 items"]),
    ("3 item(s) failed", ["m(s)"]), ("2 item failed", ["2 item"]), ("1 item were refused", ["1 item were"]),
    ("1 of which are not ids", ["1 of which are"]),
    ("0 of the 1 item concerned; 2 of 3 items; 1 failed answer was given by 2 HTTP clients; 5 item ids", []),
])
def test_the_wrong_number_check_catches_what_it_is_for(text, found):
    assert bad_forms(text) == found
