"""Edge cases where a plausible rule says more than the evidence shows (each once gave a wrong or
overreaching finding): short runs, tiny jobs, a proxy's own 401 pages, sequential jobs, grammar."""

from __future__ import annotations

import pytest

from diagnosis_records import (
    NGINX, NGINX_502_PAGE, Job, attempt, bad_forms, broken, common, item, items_of, keyed, run,
)


def ok(item_id: str, **extra) -> dict:
    return attempt(item_id, 200, **extra)


def refused(item_id: str) -> dict:
    return broken(item_id, "ConnectError", "connect")


# --- rules_availability / windows.find_windows-----------------------------------------------------------

def test_three_items_failing_once_back_to_back_are_no_proof_of_anything_item_specific():
    """Three items, one attempt each, all 503 in a row between successes. Three single answers are too
    little to call an outage (a window needs 4 attempts), and one attempt per item cannot show that the
    server fails on those items specifically: they are 5xx the job did not retry."""
    job = Job(run(ok("a"), ok("b"), attempt("c", 503), attempt("d", 503), attempt("e", 503), ok("f"), ok("g")))
    assert job.ids == ["transient_server_errors"]
    assert job.finding("transient_server_errors")["evidence"]["recovered_items"] == 0


@pytest.mark.parametrize("failures", [
    [refused("x"), refused("y"), refused("z")],
    [refused("x"), refused("x"), refused("x"), refused("y"), refused("y"), refused("y")],
], ids=["three-items-once", "two-items-three-times"])
def test_connections_refused_from_some_moment_to_the_end_are_a_server_that_went_down(failures):
    """After 8 successes every later attempt is refused until the job ends: a refused connection is never
    about the item, so even a short run to the end is a server that went down (not "scattered")."""
    job = Job(run(*[ok(f"i{k}") for k in range(8)], *failures))
    assert job.ids == ["server_went_down"]


@pytest.mark.parametrize("failure, answered", [
    (attempt("b", 502, server=None, content_type="text/html", error_body=NGINX_502_PAGE), 1),
    (attempt("b", 502, server=NGINX), 1),
], ids=["html-page-no-server-header", "nginx-server-header"])
def test_proxy_answered_evidence_says_who_answered_as_its_docstring_documents(failure, answered):
    """``answered_by`` is ``{jellyfin|proxy|unknown: n}`` as documented; the proxy's Server headers are
    ``proxy_servers``, and a proxy without a Server header is not named "no Server header"."""
    found = Job(run(ok("a"), failure, ok("c"), ok("b"))).finding("proxy_answered")
    assert found["evidence"]["answered_by"] == {"proxy": answered}


# --- rules_auth --------------------------------------------------------------------------------------------

def test_401_pages_from_a_proxy_say_nothing_about_the_jellyfin_key():
    """nginx answers three /Items requests with its own "401 Authorization Required" page while Kestrel
    accepts the key on the others: the proxy answered, and the key rules leave its pages out."""
    page = {"server": NGINX, "content_type": "text/html", "error_body": "401 Authorization Required\nnginx/1.25.3"}
    job = Job(run(keyed("a", 200), keyed("b", 401, **page), keyed("c", 401, **page), keyed("d", 200),
                  keyed("e", 401, **page)))
    assert job.ids == ["proxy_answered"]


def test_a_key_accepted_after_a_refusal_in_a_sequential_job_was_not_revoked():
    """One request at a time: accepted, accepted, refused, accepted, then refused four times. Nothing was in
    flight at once, so the acceptance after a refusal is real: accepted and refused by turns."""
    job = Job(run(*[keyed(f"i{k}", s) for k, s in enumerate([200, 200, 401, 200, 401, 401, 401, 401])]))
    assert job.ids == ["auth_intermittent"]


# --- rules_items -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("probe_error", ["HTTP 500 from /System/Info/Public", "ReadTimeout"])
def test_404_on_every_request_is_explained_whatever_the_probe_failed_with(probe_error):
    """Every request 404 and /System/Info/Public failed without a 404: one of the two rules speaks (never
    only unexplained_failures)."""
    job = Job(run(attempt("a", 404), attempt("b", 404)), env={"server_info": None, "server_info_error": probe_error})
    assert {"wrong_base_url", "items_not_found"} & set(job.ids)


def test_a_single_404_with_the_probe_404_too_is_a_wrong_base_url():
    """One request, 404, and /System/Info/Public answered 404 too: a wrong base URL, not a missing item
    (nothing worked, so nothing shows the URL is right)."""
    job = Job(run(attempt("a", 404)), env={"server_info": None,
                                           "server_info_error": "HTTP 404 from /System/Info/Public"})
    assert job.ids == ["wrong_base_url"]


def test_invalid_item_ids_counts_one_malformed_id_in_the_singular():
    """400 for a GUID and for "bad": one malformed id is counted in the singular."""
    job = Job(run(ok("0123456789abcdef0123456789abcdef"), attempt("01234567-89ab-cdef-0123-456789abcdef", 400),
                  attempt("bad", 400)))
    found = job.finding("invalid_item_ids")
    assert found["evidence"]["malformed_ids"] == ["bad"]
    assert bad_forms(found["cause"]) == []


# --- rules_transport --------------------------------------------------------------------------------------

def test_pool_exhausted_counts_one_request_in_flight_in_the_singular():
    """PoolTimeout at peak concurrency 1 (responses left open hold the pool): "1 request in flight"."""
    job = Job(run(ok("a"), broken("b", "PoolTimeout", "pool"), broken("c", "PoolTimeout", "pool"), ok("b"), ok("c")))
    found = job.finding("pool_exhausted")
    assert found["evidence"]["peak_concurrency"] == 1
    assert bad_forms(found["cause"]) == []


# --- rules_job --------------------------------------------------------------------------------------------

def test_a_job_that_ended_with_items_still_in_progress_never_says_no_problems():
    """The job span ended normally having started 5 items; 3 finished: never "No problems found"."""
    requests = run(ok("i0"), ok("i1"), ok("i2"))
    _, recommendations = Job(requests, life={"ended": True, "complete": True, "items_declared": 5,
                                             "items_started": 5, "error": None,
                                             "requests_outside_jobs": 0}).diagnose()
    assert not any(line.startswith("No problems found") for line in recommendations)


def test_unexplained_failures_evidence_names_the_failed_item():
    """An item failed with no request recorded: unexplained_failures names it in its evidence."""
    requests = run(ok("i0"), ok("i1"))
    found = Job(requests, items=items_of(requests) + [item("x", False)]).finding("unexplained_failures")
    assert found["evidence"] == common(0, ["x"], None, {})

