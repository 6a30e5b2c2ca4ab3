"""collector.compare on its own: the run suffix, the choice of base, and what a head without item finals gives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from batch_debug.collector.compare import Run, compare, pick_base, run_stem

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("job_id", "stem"), [
    ("nightly-20261128", "nightly"), ("nightly_2026-11-28", "nightly"), ("posters.42", "posters"),
    ("sync-2026-11-28T03:00", "sync"), ("a-1-2", "a-1"), ("job-42", "job"),
    ("plain", "plain"), ("v2", "v2"), ("run-abc123", "run-abc123"), ("42", "42"),
])
def test_the_run_suffix_is_digits_or_a_date_after_the_last_separator(job_id: str, stem: str) -> None:
    assert run_stem(job_id) == stem


def _run(name: str, job_id: str, hours: int, failed: int | None = 0) -> Run:
    return Run(name, job_id, T0 + timedelta(hours=hours), failed)


def test_the_base_is_the_same_id_then_the_same_stem_then_the_newest_clean_job() -> None:
    head = _run("h", "nightly-3", 10)
    runs = [head, _run("clean", "other", 9), _run("stem", "nightly-2", 5, failed=4),
            _run("same", "nightly-3", 2, failed=7), _run("later", "nightly-3", 11)]
    assert pick_base(head, runs)[0].name == "same"  # type: ignore[union-attr]
    assert pick_base(head, runs[:3])[0].name == "stem"  # type: ignore[union-attr]
    assert pick_base(head, runs[:2])[0].name == "clean"  # type: ignore[union-attr]
    chosen, why = pick_base(head, [head, _run("dirty", "x", 1, failed=1), _run("unknown", "y", 2, failed=None)])
    assert chosen is None and "no earlier run of job nightly-3" in why


def _head(items: list[dict], version: str | None = "10.10.7", rate: float = 100.0) -> dict:
    return {"job_id": "j", "summary": {"item_success_rate_percent": rate, "items_total": len(items),
                                       "status_code_breakdown": {"200": 3}, "latency_ms": {}, "connections": {}},
            "environment": {"server_info": {"Version": version} if version else None,
                            "server_headers": {"Kestrel": 3}, "http_versions": {"HTTP/1.1": 3}},
            "items": items}


def test_an_old_head_without_item_finals_still_compares_with_statuses_unknown() -> None:
    base = _head([{"item_id": "a", "outcome": "succeeded"}, {"item_id": "b", "outcome": "succeeded"}])
    head = _head([{"item_id": "a", "outcome": "failed", "error": "HTTP 500 on GET /Items/a"},
                  {"item_id": "b", "outcome": "succeeded"}], version=None, rate=50.0)
    found = compare(base, head)
    assert found["flipped"]["ok_to_failed"] == [{"item_id": "a", "base_status": None, "head_status": None,
                                                 "base_attempts": None, "head_attempts": None,
                                                 "head_error": "HTTP 500 on GET /Items/a"}]
    assert found["server"]["changes"] == []  # unknown is not changed
    assert found["server"]["unknown"] == [{"what": "version", "base": "10.10.7", "head": None}]
    assert found["changes"][0] == "Item success rate 100.0% -> 50.0% (-50.0 points)."


def test_identical_runs_say_nothing_changed() -> None:
    items = [{"item_id": "a", "outcome": "succeeded", "final_status": 200, "attempts": 3}]
    assert compare(_head(items), _head(items))["changes"] == ["Nothing notable changed."]
