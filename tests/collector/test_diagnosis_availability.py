"""Diagnosis of the server side (rules_availability): outages, a server that went down or was never there,
a proxy's own answers, 5xx on particular items or now and then, rate limits."""

from __future__ import annotations

import pytest

from diagnosis_records import (
    KESTREL, NGINX, NGINX_502_PAGE, Job, attempt, broken, case, common, run,
)

HTML_502 = {"content_type": "text/html", "error_body": NGINX_502_PAGE}
PROBLEM_502 = {"content_type": "application/problem+json", "error_body": '{"title": "Bad Gateway"}'}
CORRUPT = {"content_type": "application/json",
           "error_body": '{"title": "An error occurred", "detail": "Image file is corrupt"}'}


def ok(item_id: str, **extra) -> dict:
    return attempt(item_id, 200, **extra)


def refused(item_id: str) -> dict:
    return broken(item_id, "ConnectError", "connect")


# --- outage_window ---------------------------------------------------------------------------

@case("outage_window")
def outage_between_successes() -> Job:
    return Job(run(ok("a"), ok("b"), attempt("c", 503), attempt("d", 503), attempt("e", 503), attempt("c", 503),
                   ok("c"), ok("d"), ok("e"), ok("f")))


@case()
def same_failures_scattered_among_successes() -> Job:
    return Job(run(ok("a"), attempt("c", 503), ok("b"), attempt("d", 503), ok("c"), attempt("e", 503), ok("d"),
                   attempt("c", 503), ok("e"), ok("c")))


@case()
def one_item_failing_three_times_in_a_row() -> Job:
    return Job(run(ok("a"), ok("b"), attempt("c", 503), attempt("c", 503), attempt("c", 503), ok("d")))


@case()
def server_errors_naming_their_own_items() -> Job:
    return Job(run(ok("a"), *[attempt(i, 500, content_type="application/json",
                                      error_body=f'{{"detail": "Error processing item {i}: file missing"}}')
                              for i in "cdef"], ok("g")))


@case("outage_window")
def late_start() -> Job:
    return Job(run(refused("c"), refused("d"), refused("e"), refused("f"), ok("g"), ok("c")))


def test_failures_across_items_between_successes_are_an_outage():
    found = outage_between_successes().finding("outage_window")
    assert found["evidence"] == common(4, ["c", "d", "e"], (200.0, 550.0), {"503": 4}, {KESTREL: 4}) | {
        "kind": "outage", "signature": "503", "recovered_items": 3, "answered_by": {"jellyfin": 4}, "answers_under_way": 0}
    assert found["confidence"] == "medium"


def test_an_outage_of_six_items_behind_a_proxy_is_sure_and_the_proxy_is_named():
    job = Job(run(ok("a"), *[attempt(f"o{k}", 502, server=NGINX, **HTML_502) for k in range(6)], ok("b")))
    assert job.ids == ["outage_window", "proxy_answered"]
    found = job.finding("outage_window")
    assert found["evidence"] == common(6, ["o0", "o1", "o2", "o3", "o4", "o5"], (100.0, 650.0), {"502": 6},
                                       {NGINX: 6}, said={"502 Bad Gateway / nginx/1.25.3": 6}) | {
        "kind": "outage", "signature": "502", "recovered_items": 0, "answered_by": {"proxy": 6}, "answers_under_way": 0}
    assert found["confidence"] == "high"


@pytest.mark.parametrize("scenario, expected", [
    (same_failures_scattered_among_successes, ["transient_server_errors"]),
    (one_item_failing_three_times_in_a_row, ["item_server_errors"]),
    (server_errors_naming_their_own_items, ["item_server_errors"]),
])
def test_failures_that_are_not_one_stretch_across_items_are_no_outage(scenario, expected):
    assert scenario().ids == expected


def test_failures_before_anything_worked_are_a_late_start_not_a_dead_server():
    found = late_start().finding("outage_window")
    assert found["evidence"] == common(4, ["c", "d", "e", "f"], (0.0, 350.0), {"ConnectError": 4}) | {
        "kind": "late_start", "signature": "transport error", "recovered_items": 1, "answered_by": {"unknown": 4}, "answers_under_way": 0}
    assert late_start().ids == ["outage_window"]


# --- server_went_down / server_unavailable ------------------------------------------------------

@case("server_went_down")
def server_went_down() -> Job:
    return Job(run(ok("a"), ok("b"), refused("c"), refused("d"), refused("e"), refused("f")))


@case("server_unavailable")
def nothing_ever_worked() -> Job:
    return Job(run(refused("a"), refused("b"), refused("c"), refused("a"), refused("b"), refused("c")))


@case("server_unavailable")
def one_item_one_connect_error() -> Job:
    return Job(run(refused("a")))


def test_successes_then_only_transport_errors_to_the_end_is_a_server_that_went_down():
    found = server_went_down().finding("server_went_down")
    assert found["evidence"] == common(4, ["c", "d", "e", "f"], (200.0, 550.0), {"ConnectError": 4}) | {
        "kind": "down", "signature": "transport error", "recovered_items": 0, "answered_by": {"unknown": 4}, "answers_under_way": 0,
        "last_success_ms": 100.0, "first_failure_ms": 200.0}
    assert (found["confidence"], server_went_down().ids) == ("high", ["server_went_down"])


@pytest.mark.parametrize("scenario, attempts, item_ids, end", [
    (nothing_ever_worked, 6, ["a", "b", "c"], 550.0),
    (one_item_one_connect_error, 1, ["a"], 50.0),
])
def test_a_job_in_which_nothing_worked_found_the_server_unavailable(scenario, attempts, item_ids, end):
    found = scenario().finding("server_unavailable")
    assert found["evidence"] == common(attempts, item_ids, (0.0, end), {"ConnectError": attempts}) | {
        "kind": "never", "answered_by": {"unknown": attempts}, "recovered_items": 0}
    assert (found["confidence"], scenario().ids) == ("high", ["server_unavailable"])


@pytest.mark.parametrize("scenario", [outage_between_successes, late_start, nothing_ever_worked])
def test_a_server_that_answered_later_or_never_did_not_go_down(scenario):
    assert "server_went_down" not in scenario().ids


@pytest.mark.parametrize("scenario", [outage_between_successes, late_start, server_went_down])
def test_a_server_that_answered_once_was_not_unavailable(scenario):
    assert "server_unavailable" not in scenario().ids


# --- proxy_answered ------------------------------------------------------------------------------

@case("proxy_answered")
def proxy_html_page() -> Job:
    return Job(run(ok("a"), attempt("b", 502, server=None, **HTML_502), ok("c"), ok("b")))


@case("proxy_answered")
def proxy_server_header() -> Job:
    return Job(run(ok("a"), attempt("b", 502, server=NGINX), ok("c"), ok("b")))


@case("proxy_answered")
def proxy_page_when_nginx_hides_kestrel() -> Job:
    return Job(run(ok("a", server=NGINX), attempt("b", 502, server=NGINX, **HTML_502), ok("c", server=NGINX),
                   ok("b", server=NGINX)))


@case()
def kestrel_problem_json() -> Job:
    return Job(run(ok("a"), attempt("b", 502, **PROBLEM_502), ok("c"), ok("b")))


@case()
def plain_502_when_nginx_hides_kestrel() -> Job:
    return Job(run(ok("a", server=NGINX), attempt("b", 502, server=NGINX), ok("c", server=NGINX),
                   ok("b", server=NGINX)))


@pytest.mark.parametrize("scenario, servers, title, jellyfin_servers", [
    (proxy_html_page, {}, "502 Bad Gateway", [KESTREL]),
    (proxy_server_header, {NGINX: 1}, None, [KESTREL]),
    (proxy_page_when_nginx_hides_kestrel, {NGINX: 1}, "502 Bad Gateway", [NGINX]),
])
def test_a_proxys_own_error_answer_is_told_from_jellyfins(scenario, servers, title, jellyfin_servers):
    found = scenario().finding("proxy_answered")
    said = {NGINX_502_PAGE.replace("\n", " / "): 1} if title else None
    assert found["evidence"] == common(1, ["b"], (100.0, 150.0), {"502": 1}, servers, said=said) | {
        "page_title": title, "jellyfin_servers": jellyfin_servers, "answered_by": {"proxy": 1},
        "proxy_servers": servers}
    assert (found["confidence"], scenario().ids) == ("high", ["proxy_answered"])


@pytest.mark.parametrize("scenario", [kestrel_problem_json, plain_502_when_nginx_hides_kestrel])
def test_a_502_without_a_proxys_mark_is_the_servers_own(scenario):
    assert scenario().ids == ["transient_server_errors"]


# --- item_server_errors / transient_server_errors ----------------------------------------------------

@case("item_server_errors")
def one_item_fails_every_time() -> Job:
    return Job(run(ok("a"), attempt("x", 500, **CORRUPT), ok("b"), attempt("x", 500, **CORRUPT), ok("c"),
                   attempt("x", 500, **CORRUPT), ok("d")))


@case("item_server_errors")
def the_only_item_fails_every_time() -> Job:
    body = {"error_body": "Error processing item x"}
    return Job(run(attempt("x", 500, **body), attempt("x", 500, **body), attempt("x", 500, **body)))


@case("transient_server_errors")
def error_then_success_on_retry() -> Job:
    return Job(run(ok("a"), attempt("b", 503), ok("b"), ok("c")))


def test_an_item_the_server_fails_on_every_time_while_others_work_is_named():
    found = one_item_fails_every_time().finding("item_server_errors")
    assert found["evidence"] == common(3, ["x"], (100.0, 550.0), {"500": 3}, {KESTREL: 3},
                                       said={"Image file is corrupt": 3}) | {
        "attempts_per_item": {"x": 3}, "error_body": "Image file is corrupt",
        "other_items_ok": 4}
    assert (found["confidence"], one_item_fails_every_time().ids) == ("high", ["item_server_errors"])


def test_the_only_item_failing_every_time_is_less_sure_with_no_other_item_to_compare():
    found = the_only_item_fails_every_time().finding("item_server_errors")
    assert found["evidence"] == common(3, ["x"], (0.0, 250.0), {"500": 3}, {KESTREL: 3},
                                       said={"Error processing item x": 3}) | {
        "attempts_per_item": {"x": 3}, "error_body": "Error processing item x", "other_items_ok": 0}
    assert found["confidence"] == "medium"


def test_a_server_error_that_went_away_on_retry_is_transient():
    found = error_then_success_on_retry().finding("transient_server_errors")
    assert found["evidence"] == common(1, ["b"], (100.0, 150.0), {"503": 1}, {KESTREL: 1}) | {"recovered_items": 1}
    assert (found["confidence"], error_then_success_on_retry().ids) == ("medium", ["transient_server_errors"])


def test_errors_on_an_item_that_never_recovered_are_not_transient():
    assert "transient_server_errors" not in one_item_fails_every_time().ids


# --- rate_limited ---------------------------------------------------------------------------------

@case("rate_limited")
def rate_limited() -> Job:
    return Job(run(ok("a"), attempt("b", 429, retry_after="2"), attempt("c", 429, retry_after="30"), ok("b"),
                   ok("c")))


def test_429_answers_are_rate_limiting_with_the_waits_asked_for():
    found = rate_limited().finding("rate_limited")
    assert found["evidence"] == common(2, ["b", "c"], (100.0, 250.0), {"429": 2}, {KESTREL: 2}) | {
        "retry_after": ["2", "30"], "requests_per_second": 11.1, "peak_concurrency": 1, "recovered_items": 2}
    assert (found["confidence"], rate_limited().ids) == ("high", ["rate_limited"])


def test_a_503_with_retry_after_is_no_rate_limit():
    job = Job(run(ok("a"), attempt("b", 503, retry_after="5"), ok("b")))
    assert job.ids == ["transient_server_errors"]


def test_an_answer_already_under_way_does_not_split_an_outage():
    """Requests in flight together reach the server in about the order they started: an answer to one
    sent just before the outage, but started a moment after its first failure, stays inside the window."""
    base = run(*[attempt(f"ok{k}") for k in range(4)])
    first = {**attempt("a", 502), "start_offset_ms": 400.0, "duration_ms": 60.0}
    in_flight = {**attempt("late"), "start_offset_ms": 405.0, "duration_ms": 5.0}
    rest = [{**attempt(i, 502), "start_offset_ms": 410.0 + 10 * n, "duration_ms": 5.0}
            for n, i in enumerate("bcdef")]
    after = run(*[attempt(f"ok{k}") for k in range(4, 7)], start_ms=600.0)
    job = Job(base + [first, in_flight] + rest + after)
    found = job.finding("outage_window")
    assert (found["evidence"]["attempts"], found["evidence"]["answers_under_way"]) == (6, 1)
    assert "already under way" in found["cause"]


def test_an_outage_edge_blurred_by_a_loaded_machine_stays_one_window():
    """A heavily loaded client: the first 502 was held back before it was sent, so answers that reached
    the server earlier started after it; each of them overlaps a failure in flight. One window."""
    def at(item, status, start, duration):
        return {**attempt(item, status), "start_offset_ms": start, "duration_ms": duration}

    before = [at(f"ok{k}", 200, 10.0 * k, 5.0) for k in range(5)]
    edge = [at("a", 502, 100.0, 9.0)] + [at(f"e{k}", 200, 101.0 + k, 1.0) for k in range(4)]
    edge += [at("b", 502, 105.0, 5.0)] + [at(f"f{k}", 200, 105.5 + 0.5 * k, 0.4) for k in range(5)]
    outage = [at(i, 502, 110.0 + n, 0.5) for n, i in enumerate("cdefghijklmnop")]
    after = [at(f"ok{k}", 200, 200.0 + 10 * k, 5.0) for k in range(5, 9)]
    found = Job(before + edge + outage + after).finding("outage_window")
    assert (found["evidence"]["attempts"], found["evidence"]["answers_under_way"]) == (16, 9)
