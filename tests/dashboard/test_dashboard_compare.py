"""``GET /compare`` and ``batch-debug compare``: two real runs of a job, before and after a change on the server.

Each test records a base run and a head run of the same items with the
reference worker against two simulators that differ by one thing (the
version, a proxy in front, a lower rate limit), then checks that the
comparison names that thing and lists exactly the items that flipped.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from batch_debug.collector import jobfile
from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.cli import main
from batch_debug.instrumentation import Pipeline
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from dashboard_helpers import API, schema_errors
from support import API_KEY, NO_WAIT

DAY = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)


def _client(folder: Path) -> FlaskClient:
    return create_app({"TESTING": True, "DEBUG_DIR": str(folder), "API_TOKEN": None, "JELLYFIN_URL": None,
                       "JELLYFIN_API_KEY": None}).test_client()


def _run(sim: Any, ids: list[str], job_id: str, when: datetime) -> tuple[Path, dict[str, bool]]:
    """Record one run; its file renamed to the stamp ``when`` (runs a day apart, as a nightly job's are)."""
    result = run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **NO_WAIT), ids, job_id)
    assert result.job_file is not None
    target = result.job_file.with_name(jobfile.filename(job_id, when))
    os.replace(result.job_file, target)
    return target, {item.item_id: item.ok for item in result.items}


def _compare(folder: Path, **query: str) -> dict[str, Any]:
    client = _client(folder)
    answer = client.get(f"{API}/compare", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    found = answer.get_json()
    document = client.get(f"{API}/openapi.json").get_json()
    schema = document["paths"][f"{API}/compare"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema_errors(found, schema, document) == []
    return found


def test_a_new_server_version_is_named_and_the_previous_run_is_the_default_base(
        debug_pipeline: Pipeline, debug_dir: Path, make_sim, clean_env) -> None:
    before, after = make_sim("healthy", version="10.10.7"), make_sim("healthy", version="10.11.2")
    ids = before.item_ids[:4]
    _run(before, ids, "nightly", DAY)
    _run(after, ids, "nightly", DAY + timedelta(days=1))
    found = _compare(debug_dir, head="nightly")
    assert found["base_chosen_because"] == "the previous run of job nightly"
    assert {"what": "version", "base": "10.10.7", "head": "10.11.2"} in found["server"]["changes"]
    assert "Server version changed from 10.10.7 to 10.11.2." in found["changes"]
    assert found["flipped"]["ok_to_failed_count"] == found["flipped"]["failed_to_ok_count"] == 0


def test_a_proxy_put_in_front_is_named_by_its_server_header(debug_pipeline: Pipeline, debug_dir: Path,
                                                            make_sim, clean_env) -> None:
    direct = make_sim("healthy")
    proxied = make_sim("healthy", shapes=Shapes(behind_proxy="nginx/1.27.0"))
    ids = direct.item_ids[:3]
    base, _ = _run(direct, ids, "posters-20261128", DAY)
    head, _ = _run(proxied, ids, "posters-20261129", DAY + timedelta(days=1))
    found = _compare(debug_dir, head=head.name)  # a file name; the base is found by the id without its date
    assert found["base"]["file"] == base.name
    assert found["base_chosen_because"].startswith("the previous run of posters ")
    change = next(c for c in found["server"]["changes"] if c["what"] == "Server header")
    assert change["new"] == ["nginx/1.27.0"] and change["gone"] == ["Kestrel"]


def test_a_lower_rate_limit_flips_exactly_the_items_that_failed(debug_pipeline: Pipeline, debug_dir: Path,
                                                                make_sim, clean_env) -> None:
    generous = make_sim("rate-limited", rate_limit_per_second=1000.0, rate_limit_burst=1000)
    # Six requests' worth of tokens that never refill in a test's time: one or two items pass (the job's server
    # probe may take a token first), the rest get 429s.
    strict = make_sim("rate-limited", rate_limit_per_second=0.001, rate_limit_burst=6)
    ids = generous.item_ids[:5]
    base, base_ok = _run(generous, ids, "library-sync", DAY)
    head, head_ok = _run(strict, ids + [generous.item_ids[5]], "library-sync", DAY + timedelta(days=1))
    assert all(base_ok.values()) and not all(head_ok.values())
    found = _compare(debug_dir, base=base.name, head="library-sync")
    flipped = found["flipped"]
    assert [row["item_id"] for row in flipped["ok_to_failed"]] == [i for i in ids if not head_ok[i]]
    # The refused request was tried three times; before it, as many of the item's three requests as found a
    # token went through. The job's server probe takes one of the six tokens too, at a moment of its own.
    assert all(row["base_status"] == 200 and row["head_status"] == 429 and 3 <= row["head_attempts"] <= 5
               for row in flipped["ok_to_failed"])
    assert flipped["only_in_head"] == [generous.item_ids[5]] and flipped["only_in_base"] == []
    status = {row["status"]: row for row in found["status_mix"]}
    assert status["429"]["base"] == 0 and status["429"]["head"] > 0
    assert "rate_limited" in [f["pattern"] for f in found["failure_patterns"]["appeared"]]
    assert found["items"]["base_percent"] == 100.0 and found["items"]["change_points"] < 0
    printed = CliRunner().invoke(main, ["compare", "--dir", str(debug_dir), base.name, "library-sync", "--json"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == found
    text = CliRunner().invoke(main, ["compare", "--dir", str(debug_dir), base.name, "library-sync"])
    assert text.exit_code == 0
    assert f"{sum(1 for i in ids if not head_ok[i])} item(s) went from ok to failed." in text.output


def test_without_a_run_of_the_same_job_the_newest_clean_job_is_the_base(debug_pipeline: Pipeline, debug_dir: Path,
                                                                         make_sim, clean_env) -> None:
    sim, broken = make_sim("healthy"), make_sim("mixed", latency_scale=0)
    clean, _ = _run(sim, sim.item_ids[:2], "warmup", DAY)
    _run(broken, broken.demo_item_ids(30), "other", DAY + timedelta(hours=1))  # later, but with failures
    _run(sim, sim.item_ids[:2], "first-of-its-kind", DAY + timedelta(hours=2))
    found = _compare(debug_dir, head="first-of-its-kind")
    assert found["base"]["file"] == clean.name
    assert found["base_chosen_because"] == "the newest earlier job in which no item failed"


@pytest.mark.parametrize(("query", "status", "words"), [
    ({"head": "no-such-job"}, 404, "no debug file for job 'no-such-job'"),
    ({"head": "bad id!"}, 400, "head must be"),
    ({}, 400, "head"),
    ({"head": "lonely"}, 404, "nothing to compare job lonely with"),
    ({"head": "lonely", "base": "lonely"}, 400, "the same file"),
])
def test_bad_or_missing_runs_are_clear_errors(debug_pipeline: Pipeline, debug_dir: Path, make_sim, clean_env,
                                              query: dict[str, str], status: int, words: str) -> None:
    sim = make_sim("healthy")
    _run(sim, sim.item_ids[:1], "lonely", DAY)
    answer = _client(debug_dir).get(f"{API}/compare", query_string=query)
    assert answer.status_code == status
    assert words in answer.get_json()["error"]["message"]
