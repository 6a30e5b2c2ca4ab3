"""Diagnosis of what successful answers held (rules_content): a page, a document or nothing where a poster
was asked for, and who sent it; and the near misses that must stay quiet."""

from __future__ import annotations

from batch_debug.collector.diagnosis.view import JobView
from diagnosis_records import IMAGE, ITEM, KESTREL, Job, attempt, case, healthy, items_of, run

PORTAL = "portal/2.4"
SIGN_IN = "Sign in\nYour session has ended. Sign in to continue."


def poster(item_id: str, **extra: object) -> dict:
    return attempt(item_id, **{"body_bytes": 48_000, **extra})


def page(item_id: str, server: str | None = PORTAL, route: str = IMAGE, **extra: object) -> dict:
    return attempt(item_id, route=route, server=server, body_kind="html", content_type="text/html",
                   body_text=SIGN_IN, body_bytes=420, **extra)


@case("page_instead_of_image")
def portal_window() -> Job:
    """Posters, then a portal's sign-in page for a while (posters and look-ups), then posters again."""
    return Job(run(poster("a"), poster("b"), page("c"), page("d", route=ITEM), page("d"), poster("e")))


def test_a_portal_between_posters_is_named_with_who_sent_it_and_when():
    job = portal_window()
    assert job.ids == ["page_instead_of_image"]
    found = job.finding("page_instead_of_image")
    evidence = found["evidence"]
    assert found["confidence"] == "high"
    assert (evidence["attempts"], evidence["items"], evidence["servers"]) == (3, 2, {PORTAL: 3})
    assert evidence["image_servers"] == {KESTREL: 3} and evidence["images_received"] == 3
    assert evidence["images_before"] and evidence["images_after"]
    assert evidence["window_ms"] == {"start": 200.0, "end": 450.0}
    assert evidence["body_said"] == "Sign in / Your session has ended. Sign in to continue."
    assert evidence["body_kinds"] == {"html": 3} and evidence["content_types"] == {"text/html": 3}
    cause = found["cause"]
    assert cause.startswith("3 requests (2 for posters, 2 items: c, d) were answered 200 with an HTML page")
    assert "portal/2.4 where the posters came from Kestrel" in cause and "posters came before and after" in cause


@case("page_instead_of_image")
def web_client_pages() -> Job:
    """Jellyfin's own server answers HTML on the image route: its web client, for a path its API lacks."""
    return Job(run(page("a", server=KESTREL), page("b", server=KESTREL)))


def test_jellyfins_own_html_is_its_web_client_and_points_at_the_base_path():
    found = web_client_pages().finding("page_instead_of_image")
    assert found["confidence"] == "medium"
    assert "Jellyfin's own web server (Kestrel)" in found["cause"] and "base path" in found["action"]
    assert found["cause"].startswith("2 poster requests (2 items: a, b) were answered 200 with an HTML page, not an image")


@case("page_instead_of_image")
def one_server_in_front_of_everything() -> Job:
    """A proxy that names itself on every answer: the pages cannot be told apart from the posters by who sent them."""
    return Job(run(poster("a", server="edge/1"), page("b", server="edge/1")))


def test_the_same_server_for_pages_and_posters_is_not_called_high():
    assert one_server_in_front_of_everything().finding("page_instead_of_image")["confidence"] == "medium"


@case("page_instead_of_image")
def items_failed_on_the_page() -> Job:
    """The job checked what it got and failed the items: the answer explains them, not the job's code."""
    requests = run(poster("a"), page("b"), page("c"))
    return Job(requests, items=items_of(requests, failed=["b", "c"], error="not an image (text/html)"))


def test_items_the_job_failed_on_a_page_are_not_blamed_on_its_code():
    job = items_failed_on_the_page()
    assert job.ids == ["page_instead_of_image"]  # no worker_side_failures
    evidence = job.finding("page_instead_of_image")["evidence"]
    assert (evidence["items_failed"], evidence["items_succeeded"]) == (2, 0)
    assert "took these answers as good" not in job.finding("page_instead_of_image")["cause"]
    assert "took these answers as good: its 2 items succeeded." in portal_window().finding(
        "page_instead_of_image")["cause"]


@case("page_instead_of_image")
def sign_in_proxy_redirects() -> Job:
    """A sign-in proxy sends every poster request to its login page (302), which answers 200 with a form."""
    hop = {"status": 302, "redirect_to": "/sso/login?rd=/Items/x/Images/Primary", "body_bytes": 0}
    return Job(run(attempt("a", **hop), page("a", server="nginx", route="/sso/login"),
                   attempt("b", **hop), page("b", server="nginx", route="/sso/login")))


def test_a_login_page_reached_by_redirecting_the_posters_is_named_as_such():
    found = sign_in_proxy_redirects().finding("page_instead_of_image")
    assert found["cause"].startswith("2 poster requests (2 items: a, b) were redirected to /sso/login, which "
                                     "answered 200 with an HTML page (\u201cSign in / Your session has ended.")
    assert found["evidence"]["redirected_to"] == ["/sso/login"] and found["confidence"] == "high"
    assert sign_in_proxy_redirects().ids == ["page_instead_of_image"]


@case("document_instead_of_image")
def error_told_with_200() -> Job:
    return Job(run(poster("a"), attempt("b", body_kind="json", content_type="application/json",
                                        body_text='{"message": "image cache miss"}', body_bytes=31)))


def test_a_document_where_a_poster_was_asked_for_quotes_its_words():
    found = error_told_with_200().finding("document_instead_of_image")
    assert found["confidence"] == "medium" and found["evidence"]["example_item_ids"] == ["b"]
    assert found["cause"] == ("1 poster request (1 item: b) was answered 200 with a JSON document, not an image "
                              "(\u201cimage cache miss\u201d), sent by Jellyfin: the status says success, the body does not. "
                              "The job took these answers as good: its 1 item succeeded.")


@case("empty_images")
def some_posters_empty() -> Job:
    return Job(run(poster("a"), attempt("b", body_kind="empty", body_bytes=0), poster("c")))


@case("empty_images")
def no_content_for_a_poster() -> Job:
    """A 204 No Content where a poster was asked for (a proxy or a plugin with nothing to give)."""
    return Job(run(poster("a"), attempt("b", 204, body_kind="empty", body_bytes=0)))


def test_a_204_is_an_empty_poster_and_says_its_status():
    found = no_content_for_a_poster().finding("empty_images")
    assert found["cause"].startswith("1 poster request (1 item: b) was answered 204 with an empty body (0 bytes)")


@case("empty_images")
def every_poster_empty() -> Job:
    return Job(run(attempt("a", body_kind="empty", body_bytes=0), attempt("b", body_kind="empty", body_bytes=0)))


def test_empty_posters_among_whole_ones_are_the_servers_files_and_all_empty_is_a_hint():
    some, every = some_posters_empty().finding("empty_images"), every_poster_empty().finding("empty_images")
    assert (some["confidence"], every["confidence"]) == ("medium", "low")
    assert "while other posters came whole" in some["cause"]
    assert "no poster of this job had a byte" in every["cause"] and "past any proxy" in every["action"]


@case()
def a_json_lookup_is_what_its_route_serves() -> Job:
    """A document on an API route (or any kind the record never names) is no finding; nor are HEADs and 204s."""
    return Job(run(attempt("a", route=ITEM, body_kind="json", content_type="application/json", body_bytes=900),
                   poster("a"), attempt("b", status=204, body_bytes=0), poster("b", method="HEAD", body_bytes=0)))


def test_only_a_page_is_named_on_an_api_route():
    assert a_json_lookup_is_what_its_route_serves().ids == []
    assert portal_window().finding("page_instead_of_image")["evidence"]["attempts"] == 3  # the look-up's page too


def test_a_healthy_job_reads_no_body_kind_and_the_pages_count_as_successes():
    assert Job(healthy(200, 8)).ids == []
    requests = run(poster("a"), page("b"))
    view = JobView(requests, items_of(requests))
    assert len(view.ok) == 2 and not view.failed  # a 200 is a success by its status: the rule says what it held
