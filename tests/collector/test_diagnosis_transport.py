"""Diagnosis of the wire (rules_transport): where scattered attempts broke (pool, connect, waiting, stale or
dropped connection, mid-body), slowness, and connections the job or the server would not keep."""

from __future__ import annotations

import pytest

from batch_debug.collector.diagnosis.view import JobView
from diagnosis_records import IMAGE, KESTREL, MIB, Job, attempt, broken, case, common, concurrent, run


def ok(item_id: str, **extra) -> dict:
    return attempt(item_id, 200, **extra)


def in_body(item_id: str, error_type: str, body_bytes: int) -> dict:
    return attempt(item_id, 200, error_type=error_type, error_phase="body", body_bytes=body_bytes)


def own(error_types: dict[str, int], phase: str, recovered: int, reused: int) -> dict:
    """The evidence keys every broken-attempt finding adds."""
    return {"error_types": error_types, "phase": phase, "recovered_items": recovered, "reused_connection": reused}


# --- where attempts broke -------------------------------------------------------------------------------

@case("pool_exhausted")
def pool_exhausted() -> Job:
    waited = [broken(f"b{k}", "PoolTimeout", "pool") for k in range(4)]
    return Job(concurrent([ok(f"a{k}") for k in range(4)] + waited + [ok(f"b{k}") for k in range(4)], 4))


@case("connect_failures")
def connect_failures() -> Job:
    return Job(run(ok("a"), broken("b", "ConnectError", "connect"), ok("c"), broken("d", "ConnectTimeout", "connect"),
                   ok("b"), ok("d")))


@case("no_response_timeout")
def no_response_timeout() -> Job:
    return Job(run(*[ok(i, ttfb_ms=t) for i, t in zip("acde", (20.0, 30.0, 40.0, 900.0))],
                   broken("b", "ReadTimeout", "headers"), ok("b", ttfb_ms=25.0)))


@case("stale_connections")
def stale_connection() -> Job:
    return Job(run(ok("a"), broken("b", "RemoteProtocolError", "headers", connection_reused=True), ok("b")))


@case("connection_dropped")
def dropped_connection() -> Job:
    return Job(run(ok("a"), broken("b", "RemoteProtocolError", "headers", connection_reused=False), ok("c")))


@case("body_stalled")
def body_stalled() -> Job:
    return Job(run(ok("a"), in_body("b", "ReadTimeout", 1000), ok("c"), in_body("d", "ReadTimeout", 3000),
                   in_body("e", "ReadTimeout", 2000), ok("f"), ok("b")))


@case("body_cut_off")
def body_cut_off() -> Job:
    return Job(run(ok("a"), in_body("b", "RemoteProtocolError", 50_000), ok("c")))


@pytest.mark.parametrize("scenario, finding_id, evidence, confidence", [
    (pool_exhausted, "pool_exhausted",
     common(4, ["b0", "b1", "b2", "b3"], (100.0, 193.0), {"PoolTimeout": 4})
     | own({"PoolTimeout": 4}, "pool", 4, 0) | {"peak_concurrency": 4}, "high"),
    (connect_failures, "connect_failures",
     common(2, ["b", "d"], (100.0, 350.0), {"ConnectError": 1, "ConnectTimeout": 1})
     | own({"ConnectError": 1, "ConnectTimeout": 1}, "connect", 2, 0), "medium"),
    (no_response_timeout, "no_response_timeout",
     common(1, ["b"], (400.0, 450.0), {"ReadTimeout": 1}) | own({"ReadTimeout": 1}, "headers", 1, 0)
     | {"ttfb_ms": {"p50": 30.0, "p95": 900.0, "max": 900.0, "samples": 5}}, "medium"),
    (stale_connection, "stale_connections",
     common(1, ["b"], (100.0, 150.0), {"RemoteProtocolError": 1}) | own({"RemoteProtocolError": 1}, "headers", 1, 1),
     "high"),
    (dropped_connection, "connection_dropped",
     common(1, ["b"], (100.0, 150.0), {"RemoteProtocolError": 1}) | own({"RemoteProtocolError": 1}, "headers", 0, 0),
     "medium"),
    (body_stalled, "body_stalled",
     common(3, ["b", "d", "e"], (100.0, 450.0), {"ReadTimeout": 3}, {KESTREL: 3})
     | own({"ReadTimeout": 3}, "body", 1, 0) | {"bytes_before_failure": 2000}, "high"),
    (body_cut_off, "body_cut_off",
     common(1, ["b"], (100.0, 150.0), {"RemoteProtocolError": 1}, {KESTREL: 1})
     | own({"RemoteProtocolError": 1}, "body", 0, 0) | {"bytes_before_failure": 50_000}, "high"),
])
def test_a_scattered_broken_attempt_is_named_for_where_it_broke(scenario, finding_id, evidence, confidence):
    job = scenario()
    found = job.finding(finding_id)
    assert found["evidence"] == evidence
    assert (found["confidence"], job.ids) == (confidence, [finding_id])


@pytest.mark.parametrize("error_type, phase, finding_id", [
    ("PoolTimeout", "pool", "pool_exhausted"),
    ("ConnectTimeout", "connect", "connect_failures"),
    ("WriteTimeout", "send", "no_response_timeout"),
    ("ReadTimeout", "headers", "no_response_timeout"),
])
def test_timeouts_are_named_for_the_phase_they_hit(error_type, phase, finding_id):
    job = Job(run(ok("a"), broken("b", error_type, phase), ok("c"), ok("b")))
    assert job.ids == [finding_id]


def test_a_stale_connection_whose_item_never_recovered_is_less_sure():
    job = Job(run(ok("a"), broken("b", "RemoteProtocolError", "headers", connection_reused=True), ok("c")))
    assert job.finding("stale_connections")["confidence"] == "medium"


@pytest.mark.parametrize("failure", [
    lambda i: broken(i, "ConnectError", "connect"),
    lambda i: broken(i, "ReadTimeout", "headers"),
    lambda i: broken(i, "RemoteProtocolError", "headers", connection_reused=True),
    lambda i: broken(i, "RemoteProtocolError", "headers", connection_reused=False),
], ids=["connect", "no-response", "stale", "dropped"])
def test_attempts_without_an_answer_inside_an_outage_are_the_outages(failure):
    job = Job(run(ok("a"), *[failure(i) for i in "bcde"], ok("f"), *[ok(i) for i in "bcde"]))
    assert job.ids == ["outage_window"]


@pytest.mark.parametrize("error_type, finding_id", [
    ("ReadTimeout", "body_stalled"), ("RemoteProtocolError", "body_cut_off"),
])
def test_bodies_breaking_off_across_items_are_the_body_rules_not_an_outage(error_type, finding_id):
    """An answer that began came from a server that was there (``view._unavailable``)."""
    job = Job(run(ok("a"), *[in_body(i, error_type, 10) for i in "bcde"], ok("f"), *[ok(i) for i in "bcde"]))
    assert job.ids == [finding_id]
    assert job.finding(finding_id)["evidence"]["attempts"] == 4


# --- slow_responses / slow_transfers ------------------------------------------------------------------

@case("slow_responses")
def slow_answers() -> Job:
    return Job(run(*[ok(f"i{k}", ttfb_ms=t) for k, t in enumerate([100.0, 200.0, 300.0, 1500.0, 2500.0])]))


@case("slow_transfers")
def slow_large_bodies() -> Job:
    return Job(run(*[ok(f"i{k}", body_bytes=2 * MIB, body_ms=ms) for k, ms in enumerate([1500.0, 2000.0, 4000.0])]))


def test_a_p95_time_to_first_byte_over_a_second_is_slow_responses():
    found = slow_answers().finding("slow_responses")
    assert found["evidence"] == common(1, ["i4"], (400.0, 450.0), {"200": 1}, {KESTREL: 1}) | {
        "ttfb_ms": {"p50": 300.0, "p95": 2500.0, "max": 2500.0, "samples": 5}, "routes": {IMAGE: 1}}
    assert (found["confidence"], slow_answers().ids) == ("medium", ["slow_responses"])


@pytest.mark.parametrize("ttfb", [
    [100.0, 200.0, 300.0, 400.0, 500.0],  # fast
    [1500.0, 2500.0, 3000.0, 4000.0],  # slow, but too few answers to tell
])
def test_fast_or_too_few_answers_are_not_slow_responses(ttfb):
    assert Job(run(*[ok(f"i{k}", ttfb_ms=t) for k, t in enumerate(ttfb)])).findings == []


def test_large_bodies_at_a_median_below_2_mb_per_second_are_slow_transfers():
    found = slow_large_bodies().finding("slow_transfers")
    assert found["evidence"] == common(3, ["i0", "i1", "i2"], (0.0, 250.0), {"200": 3}, {KESTREL: 3}) | {
        "throughput_bytes_per_s": MIB, "large_bodies": 3}
    assert (found["confidence"], slow_large_bodies().ids) == ("medium", ["slow_transfers"])


@pytest.mark.parametrize("sizes_and_ms", [
    [(2 * MIB, 20.0), (2 * MIB, 21.0), (2 * MIB, 22.0)],  # about 100 MB/s
    [(2 * MIB, 2000.0), (2 * MIB, 2000.0), (200_000, 2000.0)],  # slow, but only two large bodies
])
def test_fast_or_too_few_large_bodies_are_not_slow_transfers(sizes_and_ms):
    job = Job(run(*[ok(f"i{k}", body_bytes=n, body_ms=ms) for k, (n, ms) in enumerate(sizes_and_ms)]))
    assert job.findings == []


# --- server_closes_connections / connection_churn -------------------------------------------------------

@case("server_closes_connections")
def server_closes_connections() -> Job:
    return Job(run(*[ok(f"i{k}", conn_close=True, connection_reused=False, connect_ms=3.0) for k in range(30)]),
               sessions_created=1)


@case("connection_churn")
def a_client_per_request() -> Job:
    return Job(run(*[ok(f"i{k}", connection_reused=False) for k in range(30)]), sessions_created=30)


@case()
def eight_at_once_then_reused() -> Job:
    return Job(concurrent([ok(f"i{k:02d}") for k in range(12)], 8), sessions_created=1)


@case()
def twenty_at_once_then_reused() -> Job:
    return Job(concurrent([ok(f"i{k:02d}") for k in range(30)], 20), sessions_created=1)


def test_answers_saying_connection_close_blame_the_server_not_the_job():
    job = server_closes_connections()
    found = job.finding("server_closes_connections")
    ids = [f"i{k}" for k in range(30)]
    assert found["evidence"] == common(30, ids, (0.0, 2950.0), {"200": 30}, {KESTREL: 30}) | {
        "connection_close": 30, "answers": 30}
    assert (found["confidence"], job.ids) == ("high", ["server_closes_connections"])


def test_a_few_connection_close_answers_are_no_finding():
    job = Job(run(*[ok(f"i{k}", conn_close=k < 4, connection_reused=k > 0) for k in range(8)]))
    assert job.findings == []


def test_a_new_connection_for_every_sequential_attempt_is_churn():
    job = a_client_per_request()
    found = job.finding("connection_churn")
    ids = [f"i{k}" for k in range(30)]
    assert found["evidence"] == common(30, ids, (0.0, 2950.0), {"200": 30}, {KESTREL: 30}) | {
        "new_connections": 30, "reused_connections": 0, "peak_concurrency": 1, "expected_new_connections": 1,
        "sessions_created": 30}
    assert (found["confidence"], job.ids) == ("high", ["connection_churn"])


@pytest.mark.parametrize("scenario, lanes", [(eight_at_once_then_reused, 8), (twenty_at_once_then_reused, 20)])
def test_one_new_connection_per_request_in_flight_is_no_churn(scenario, lanes):
    job = scenario()
    assert JobView(job.requests, []).peak_concurrency == lanes
    assert sum(1 for r in job.requests if r["connection_reused"] is False) == lanes
    assert job.findings == []
