"""Diagnosis of the API key (rules_auth): revoked, refused from the start, refused by turns, sent in a form
the server ignores, missing; and 403 Forbidden. Only routes that need a key speak about it."""

from __future__ import annotations

import pytest

from diagnosis_records import KESTREL, NGINX, Job, attempt, case, common, keyed, run

REVOKED = {"credential_fp": "fp1", "credential_form": "authorization", "forms_accepted": ["authorization"],
           "forms_refused": ["authorization"], "server_version": None}


def at(record: dict, start_ms: float) -> dict:
    return {**record, "start_offset_ms": start_ms, "duration_ms": 90.0, "attempt": 1}


def refused_everywhere(form: str = "authorization") -> list[dict]:
    return run(keyed("i0", 401, form=form), keyed("i1", 401, form=form), keyed("i2", 401, form=form))


def version(v: str) -> dict:
    return {"server_info": {"ProductName": "Jellyfin Server", "Version": v}}


# --- key_revoked / auth_intermittent / key_rejected ----------------------------------------------

@case("key_revoked")
def key_revoked() -> Job:
    return Job(run(keyed("a", 200), keyed("b", 200), keyed("c", 401), keyed("d", 401), keyed("e", 401)))


@case("key_revoked")
def key_revoked_with_requests_in_flight() -> Job:
    """Four at a time: three requests that started just after the first refusal were still accepted."""
    before = [at(keyed(f"a{k}", 200), 100.0 * (k // 4) + k % 4) for k in range(8)]
    moment = [at(keyed("r00", 401), 200.0), *[at(keyed(f"l{k}", 200), 201.0 + k) for k in range(3)]]
    after = [at(keyed(f"r{k + 1:02d}", 401), 300.0 + 100 * (k // 4) + k % 4) for k in range(10)]
    return Job(before + moment + after)


@case("auth_intermittent")
def accepted_and_refused_by_turns() -> Job:
    return Job(run(*[keyed(f"i{k}", 200 if k % 2 == 0 else 401) for k in range(8)]))


@case("key_rejected")
def key_never_accepted() -> Job:
    return Job(refused_everywhere())


@case("key_rejected")
def key_accepted_only_where_no_key_is_needed() -> Job:
    image_ok = attempt("a", 200, credential_fp="fp1", credential_form="authorization")
    return Job(run(image_ok, keyed("b", 401), keyed("c", 401)))


@case()
def refused_only_on_images() -> Job:
    return Job(run(attempt("a", 200), attempt("b", 401, credential_fp="fp1", credential_form="authorization"),
                   attempt("c", 401)))


def test_a_key_accepted_then_refused_to_the_end_was_revoked():
    found = key_revoked().finding("key_revoked")
    assert found["evidence"] == common(3, ["c", "d", "e"], (200.0, 450.0), {"401": 3}, {KESTREL: 3}) | REVOKED | {
        "accepted": 2, "rejected": 3, "last_accepted_ms": 100.0, "first_rejected_ms": 200.0}
    assert (found["confidence"], key_revoked().ids) == ("high", ["key_revoked"])


def test_requests_in_flight_when_the_key_went_do_not_hide_its_revocation():
    job = key_revoked_with_requests_in_flight()
    found = job.finding("key_revoked")
    ids = ["r00", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09", "r10"]
    assert found["evidence"] == common(11, ids, (200.0, 591.0), {"401": 11}, {KESTREL: 11}) | REVOKED | {
        "accepted": 11, "rejected": 11, "last_accepted_ms": 203.0, "first_rejected_ms": 200.0}
    assert (found["confidence"], job.ids) == ("high", ["key_revoked"])


def test_a_key_accepted_and_refused_by_turns_is_intermittent_not_revoked():
    found = accepted_and_refused_by_turns().finding("auth_intermittent")
    assert found["evidence"] == common(4, ["i1", "i3", "i5", "i7"], (100.0, 750.0), {"401": 4},
                                       {KESTREL: 4}) | REVOKED | {"accepted": 4, "rejected": 4,
                                                                  "first_rejected_ms": 100.0}
    assert (found["confidence"], accepted_and_refused_by_turns().ids) == ("medium", ["auth_intermittent"])


@pytest.mark.parametrize("scenario, evidence", [
    (key_never_accepted, common(3, ["i0", "i1", "i2"], (0.0, 250.0), {"401": 3}, {KESTREL: 3})
     | {"first_rejected_ms": 0.0}),
    (key_accepted_only_where_no_key_is_needed, common(2, ["b", "c"], (100.0, 250.0), {"401": 2}, {KESTREL: 2})
     | {"first_rejected_ms": 100.0}),
])
def test_a_key_never_accepted_where_it_is_needed_was_rejected(scenario, evidence):
    found = scenario().finding("key_rejected")
    assert found["evidence"] == evidence | REVOKED | {"accepted": 0, "rejected": evidence["attempts"],
                                                      "forms_accepted": []}
    assert (found["confidence"], scenario().ids) == ("medium", ["key_rejected"])


def test_refusals_on_images_say_nothing_about_the_key():
    assert refused_only_on_images().ids == ["unexplained_failures"]


# --- auth_form_not_accepted -------------------------------------------------------------------------

@case("auth_form_not_accepted")
def same_key_accepted_in_another_form() -> Job:
    return Job(run(keyed("a", 200, form="x-emby-token"), keyed("b", 401), keyed("c", 200, form="x-emby-token"),
                   keyed("d", 401)))


@case("auth_form_not_accepted")
def authorization_header_to_10_7() -> Job:
    return Job(refused_everywhere("authorization"), env=version("10.7.7"))


@case("auth_form_not_accepted")
def emby_token_to_10_12() -> Job:
    return Job(refused_everywhere("x-emby-token"), env=version("10.12.0"))


@case("auth_form_not_accepted")
def emby_token_to_12_0() -> Job:
    return Job(refused_everywhere("x-emby-token"), env=version("12.0.0"))


def test_a_key_accepted_in_one_form_and_refused_in_another_is_a_form_problem():
    found = same_key_accepted_in_another_form().finding("auth_form_not_accepted")
    assert found["evidence"] == common(2, ["b", "d"], (100.0, 350.0), {"401": 2}, {KESTREL: 2}) | {
        "credential_fp": "fp1", "credential_form": "authorization", "accepted": 2, "rejected": 2,
        "forms_accepted": ["x-emby-token"], "forms_refused": ["authorization"], "server_version": None}
    assert (found["confidence"], same_key_accepted_in_another_form().ids) == ("high", ["auth_form_not_accepted"])


@pytest.mark.parametrize("scenario, form, server_version", [
    (authorization_header_to_10_7, "authorization", "10.7.7"),
    (emby_token_to_10_12, "x-emby-token", "10.12.0"),
    (emby_token_to_12_0, "x-emby-token", "12.0.0"),
])
def test_a_form_the_servers_version_does_not_read_is_named(scenario, form, server_version):
    found = scenario().finding("auth_form_not_accepted")
    assert found["evidence"] == common(3, ["i0", "i1", "i2"], (0.0, 250.0), {"401": 3}, {KESTREL: 3}) | {
        "credential_fp": "fp1", "credential_form": form, "accepted": 0, "rejected": 3, "forms_accepted": [],
        "forms_refused": [form], "server_version": server_version}
    assert (found["confidence"], scenario().ids) == ("medium", ["auth_form_not_accepted"])


@pytest.mark.parametrize("form, v", [
    ("x-emby-token", "10.7.7"),  # old servers read X-Emby-Token
    ("x-emby-token", "10.11.6"),  # legacy authorization is on by default before 10.12
    ("authorization", "10.12.0"),  # the modern form
    ("authorization", "10.8.0"),
])
def test_a_form_the_servers_version_reads_leaves_the_key_itself_rejected(form, v):
    job = Job(refused_everywhere(form), env=version(v))
    assert job.ids == ["key_rejected"]
    assert job.finding("key_rejected")["evidence"]["server_version"] == v


# --- no_credential ---------------------------------------------------------------------------------

@case("no_credential")
def requests_without_a_key() -> Job:
    return Job(run(attempt("a", 200), keyed("b", 401, fp=None), keyed("c", 401, fp=None)))


def test_refused_requests_that_carried_no_key_are_named():
    found = requests_without_a_key().finding("no_credential")
    assert found["evidence"] == common(2, ["b", "c"], (100.0, 250.0), {"401": 2}, {KESTREL: 2}) | {
        "routes": {"/Items/{itemId}": 2}}
    assert (found["confidence"], requests_without_a_key().ids) == ("high", ["no_credential"])


@pytest.mark.parametrize("scenario", [refused_only_on_images, key_never_accepted])
def test_no_credential_needs_a_keyless_refusal_on_a_route_that_wants_a_key(scenario):
    assert "no_credential" not in scenario().ids


# --- forbidden --------------------------------------------------------------------------------------

@case("forbidden")
def forbidden_items() -> Job:
    return Job(run(attempt("a", 200), keyed("b", 403), keyed("c", 403)))


@case("proxy_answered")
def proxy_forbids() -> Job:
    page = {"server": NGINX, "content_type": "text/html", "error_body": "403 Forbidden\nnginx"}
    return Job(run(attempt("a", 200), attempt("b", 403, **page)))


def test_403_from_jellyfin_is_forbidden():
    found = forbidden_items().finding("forbidden")
    assert found["evidence"] == common(2, ["b", "c"], (100.0, 250.0), {"403": 2}, {KESTREL: 2})
    assert (found["confidence"], forbidden_items().ids) == ("medium", ["forbidden"])


def test_a_proxys_403_page_is_the_proxys_not_the_users_rights():
    assert proxy_forbids().ids == ["proxy_answered"]
