"""Diagnosis of the items themselves (rules_items): malformed ids, items gone from the server, a wrong base
URL, and other 4xx answers."""

from __future__ import annotations

import pytest

from diagnosis_records import IMAGE, KESTREL, NGINX, Job, attempt, case, common, run

GUID = "0123456789abcdef0123456789abcdef"
DASHED = "01234567-89ab-cdef-0123-456789abcdef"
OTHER_GUID = "fedcba9876543210fedcba9876543210"
BAD_REQUEST = {"content_type": "application/problem+json",
               "error_body": '{"title": "Bad Request", "detail": "Invalid id"}'}
PROBE_404 = {"server_info": None, "server_info_error": "HTTP 404 from /System/Info/Public"}


def ok(item_id: str, **extra) -> dict:
    return attempt(item_id, 200, **extra)


# --- invalid_item_ids -----------------------------------------------------------------------------------

@case("invalid_item_ids")
def malformed_ids() -> Job:
    return Job(run(ok(GUID), attempt("12345", 400, **BAD_REQUEST), attempt("abc-x", 400, **BAD_REQUEST)))


@case("invalid_item_ids")
def well_formed_ids_refused() -> Job:
    return Job(run(ok(GUID), attempt(DASHED, 400, **BAD_REQUEST), attempt(OTHER_GUID, 400, **BAD_REQUEST)))


@pytest.mark.parametrize("scenario, item_ids, malformed, confidence", [
    (malformed_ids, ["12345", "abc-x"], ["12345", "abc-x"], "high"),
    (well_formed_ids_refused, [DASHED, OTHER_GUID], [], "medium"),
])
def test_ids_refused_with_400_are_invalid_and_sure_when_they_are_no_guids(scenario, item_ids, malformed,
                                                                           confidence):
    found = scenario().finding("invalid_item_ids")
    assert found["evidence"] == common(2, item_ids, (100.0, 250.0), {"400": 2}, {KESTREL: 2},
                                       said={"Invalid id": 2}) | {"malformed_ids": malformed, "error_body": "Invalid id"}
    assert (found["confidence"], scenario().ids) == (confidence, ["invalid_item_ids"])


def test_a_proxys_400_page_says_nothing_about_the_ids():
    page = {"server": NGINX, "content_type": "text/html", "error_body": "400 Bad Request\nnginx"}
    job = Job(run(ok(GUID), attempt("12345", 400, **page)))
    assert job.ids == ["proxy_answered"]


# --- items_not_found / wrong_base_url ---------------------------------------------------------------------

@case("items_not_found")
def items_gone() -> Job:
    return Job(run(ok("a"), attempt("b", 404), attempt("c", 404), ok("d")))


@case("items_not_found")
def everything_404_but_the_probe_worked() -> Job:
    return Job(run(attempt("a", 404), attempt("b", 404)), env={"server_info": {"Version": "10.9.0"}})


@case("wrong_base_url")
def wrong_base_url() -> Job:
    return Job(run(attempt("a", 404), attempt("b", 404), attempt("c", 404)), env=PROBE_404)


@case("wrong_base_url")
def everything_404_and_no_probe() -> Job:
    return Job(run(attempt("a", 404), attempt("b", 404)))


def test_404_while_other_requests_worked_is_items_not_found():
    found = items_gone().finding("items_not_found")
    assert found["evidence"] == common(2, ["b", "c"], (100.0, 250.0), {"404": 2}, {KESTREL: 2}) | {
        "routes": {IMAGE: 2}}
    assert (found["confidence"], items_gone().ids) == ("high", ["items_not_found"])


def test_404_everywhere_while_the_public_info_answered_is_items_not_found_not_a_wrong_url():
    found = everything_404_but_the_probe_worked().finding("items_not_found")
    assert found["evidence"] == common(2, ["a", "b"], (0.0, 150.0), {"404": 2}, {KESTREL: 2}) | {
        "routes": {IMAGE: 2}}
    assert (found["confidence"], everything_404_but_the_probe_worked().ids) == ("medium", ["items_not_found"])


@pytest.mark.parametrize("scenario, attempts, item_ids, end, probe, confidence", [
    (wrong_base_url, 3, ["a", "b", "c"], 250.0, PROBE_404["server_info_error"], "high"),
    (everything_404_and_no_probe, 2, ["a", "b"], 150.0, None, "medium"),
])
def test_404_on_every_request_and_the_probe_is_a_wrong_base_url_not_missing_items(
        scenario, attempts, item_ids, end, probe, confidence):
    found = scenario().finding("wrong_base_url")
    assert found["evidence"] == common(attempts, item_ids, (0.0, end), {"404": attempts}, {KESTREL: attempts}) | {
        "routes": {IMAGE: attempts}, "probe_error": probe}
    assert (found["confidence"], scenario().ids) == (confidence, ["wrong_base_url"])


NOT_FOUND_DOCUMENT = {"content_type": "application/problem+json",
                      "error_body": '{"title": "Not Found", "status": 404}'}


@pytest.mark.parametrize("requests, env, expected", [
    # Jellyfin's own "not found" document for the one item tried: the URL reaches Jellyfin.
    ([attempt("a", 404, **NOT_FOUND_DOCUMENT)], {}, ["items_not_found"]),
    # The same, but the public info said 404 too: the base path is wrong after all.
    ([attempt("a", 404, **NOT_FOUND_DOCUMENT), attempt("b", 404, **NOT_FOUND_DOCUMENT)], PROBE_404,
     ["wrong_base_url"]),
    # A bare 404 with no body, twice, and nothing else known: the URL is the suspect.
    ([attempt("a", 404), attempt("b", 404)], {}, ["wrong_base_url"]),
])
def test_who_said_not_found_decides_between_a_missing_item_and_a_wrong_url(requests, env, expected):
    assert Job(run(*requests), env=env).ids == expected


def test_a_proxys_404_page_is_not_a_missing_item():
    page = {"server": NGINX, "content_type": "text/html", "error_body": "404 Not Found\nnginx"}
    assert Job(run(ok("a"), attempt("b", 404, **page))).ids == ["proxy_answered"]


# --- client_errors -------------------------------------------------------------------------------------

@case("client_errors")
def other_client_errors() -> Job:
    return Job(run(ok("a"), attempt("b", 405, error_body="Method Not Allowed"), attempt("c", 413),
                   attempt("d", 418)))


def test_other_4xx_are_client_errors_with_the_servers_words():
    found = other_client_errors().finding("client_errors")
    assert found["evidence"] == common(3, ["b", "c", "d"], (100.0, 350.0), {"405": 1, "413": 1, "418": 1},
                                       {KESTREL: 3}, said={"Method Not Allowed": 1}) | {"error_body": "Method Not Allowed"}
    assert (found["confidence"], other_client_errors().ids) == ("medium", ["client_errors"])


@pytest.mark.parametrize("status, finding_id", [
    (400, "invalid_item_ids"), (403, "forbidden"), (404, "items_not_found"), (429, "rate_limited"),
])
def test_4xx_with_a_rule_of_their_own_are_not_client_errors(status, finding_id):
    assert Job(run(ok("a"), attempt("b", status), ok("c"))).ids == [finding_id]


def test_a_proxys_413_page_is_the_proxys_limit():
    page = {"server": NGINX, "content_type": "text/html", "error_body": "413 Request Entity Too Large\nnginx"}
    assert Job(run(ok("a"), attempt("b", 413, **page))).ids == ["proxy_answered"]
