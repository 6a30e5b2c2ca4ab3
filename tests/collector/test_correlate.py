"""What the failures have in common (collector.correlate): found where they concentrate, silent where not.

The jobs here are generated record by record (the statistics are the unit
under test): each item does the reference worker's three requests, spread
over the job's time, on connections that are new for the first request of a
worker slot and reused after. A fault is a rule that makes some attempts
fail; everything else succeeds, or fails at a low background rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from batch_debug.collector.correlate import MIN_FAILURES, correlate
from batch_debug.collector.fisher import fisher_greater

Record = dict[str, Any]
LOOKUP, IMAGE = "/Items/{itemId}", "/Items/{itemId}/Images/Primary"


def job(fault: Callable[[Record, random.Random], bool], *, items: int = 400, seed: int = 1,
        background: float = 0.0) -> list[Record]:
    """Attempt records of a generated job; ``fault(record, rng)`` True makes an attempt fail (a 503)."""
    rng = random.Random(seed)
    records = []
    duration = 60_000.0
    for index in range(items):
        start = duration * index / items
        for step, (method, route) in enumerate((("GET", LOOKUP), ("HEAD", IMAGE), ("GET", IMAGE))):
            record: Record = {
                "item_id": f"item-{index}", "attempt": 1, "method": method, "route": route,
                "start_offset_ms": round(start + step * 10 + rng.random(), 3),
                "connection_reused": not (index % 20 == 0 and step == 0) and rng.random() > 0.15,
                "server": "Kestrel", "http_version": "HTTP/1.1",
                "body_bytes": 0 if method == "HEAD" else (400 if route == LOOKUP else 60_000),
                "status_code": 200, "thread": f"worker-{index % 4}",
            }
            if fault(record, rng) or rng.random() < background:
                record.update(status_code=503, body_bytes=120)
            records.append(record)
    return records


def top(records: list[Record]) -> tuple[str, str]:
    found = correlate(records).standing_out
    assert found, correlate(records).verdict
    return found[0].dimension, found[0].value


def test_failures_on_head_requests_are_found_on_the_method() -> None:
    records = job(lambda r, rng: r["method"] == "HEAD" and rng.random() < 0.3, background=0.01)
    assert top(records) == ("method", "HEAD")


def test_failures_on_new_connections_are_found_on_the_connection() -> None:
    records = job(lambda r, rng: not r["connection_reused"] and rng.random() < 0.5, background=0.01)
    assert top(records) == ("connection", "new")


def test_failures_in_one_time_window_are_found_on_the_time() -> None:
    records = job(lambda r, rng: 30_000 <= r["start_offset_ms"] < 36_000 and rng.random() < 0.6, background=0.01)
    assert top(records) == ("time", "50-60%")


def test_failures_on_one_route_are_found_on_the_route() -> None:
    records = job(lambda r, rng: r["route"] == LOOKUP and rng.random() < 0.25, background=0.01)
    assert top(records) == ("route", LOOKUP)


def test_a_proxy_answering_the_failures_is_found_on_the_server() -> None:
    def proxied(record: Record, rng: random.Random) -> bool:
        if rng.random() < 0.1:
            record["server"] = "nginx/1.27.0"
            return True
        return False

    assert top(job(proxied)) == ("server", "nginx/1.27.0")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_failures_spread_at_random_flag_nothing(seed: int) -> None:
    records = job(lambda r, rng: rng.random() < 0.08, seed=seed)
    found = correlate(records)
    assert found.failed >= MIN_FAILURES * 5  # enough failures that something could be (wrongly) named
    assert found.standing_out == []
    assert found.verdict.startswith("No dimension stands out")


def test_a_healthy_job_flags_nothing_and_says_why() -> None:
    found = correlate(job(lambda r, rng: False))
    assert found.failed == 0 and found.standing_out == []
    assert found.verdict == "No attempt failed: nothing to correlate."


def test_too_few_failures_are_not_a_pattern() -> None:
    records = job(lambda r, rng: r["method"] == "HEAD" and r["item_id"] in ("item-1", "item-2"))
    found = correlate(records)
    assert found.failed == 2 and found.standing_out == []
    assert "too few" in found.verdict


def test_an_error_answers_body_is_not_a_size_signal() -> None:
    # Every failure here is a small 503 body while posters are large; that must not read as "small answers fail".
    records = job(lambda r, rng: rng.random() < 0.1, seed=9)
    sizes = [d for d in correlate(records).dimensions if d.name == "size"]
    assert not sizes or not sizes[0].standing_out


def test_item_attributes_are_dimensions_too() -> None:
    records = job(lambda r, rng: int(r["item_id"].split("-")[1]) % 5 == 0 and rng.random() < 0.5)
    items = [{"item_id": f"item-{i}", "attributes": {"library": "anime" if i % 5 == 0 else "movies"}}
             for i in range(400)]
    found = correlate(records, items).standing_out
    assert (found[0].dimension, found[0].value) == ("item.library", "anime")


def test_the_answer_is_plain_json_with_shares_that_add_up() -> None:
    records = job(lambda r, rng: r["method"] == "HEAD" and rng.random() < 0.3, background=0.01)
    answer = correlate(records).to_dict()
    method = next(d for d in answer["dimensions"] if d["dimension"] == "method")
    assert sum(v["failed"] for v in method["values"]) == method["failed"] == answer["failed_attempts"]
    assert math.isclose(sum(v["failed_share"] for v in method["values"]), 1.0, abs_tol=1e-3)
    assert answer["standing_out"][0]["stands_out"] is True
    assert answer["standing_out"][0]["p_adjusted"] < 0.05
    assert answer["verdict"].startswith("Failures concentrate on HTTP method = HEAD")


def _brute(a: int, failed: int, succeeded: int, drawn: int) -> float:
    total = math.comb(failed + succeeded, drawn)
    return sum(math.comb(failed, k) * math.comb(succeeded, drawn - k)
               for k in range(a, min(failed, drawn) + 1)) / total


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.data())
def test_the_fisher_tail_equals_the_exact_sum(failed: int, succeeded: int, data: st.DataObject) -> None:
    if failed + succeeded == 0:
        return
    drawn = data.draw(st.integers(0, failed + succeeded))
    a = data.draw(st.integers(0, min(failed, drawn)))
    assert math.isclose(fisher_greater(a, failed, succeeded, drawn), _brute(a, failed, succeeded, drawn),
                        rel_tol=1e-9, abs_tol=1e-12)
