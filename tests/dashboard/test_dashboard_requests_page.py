"""``GET /job/<id>/requests``: the first request records of a job file, read without the rest of it.

The page draws its timeline from this (it used to download the full log,
which for a 1M-request job is 1.8 GB and failed in the browser).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_debug.collector import jobfile, jobstream
from dashboard_helpers import API, RECORDED_JOB, schema_errors


def _whole(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("limit", [1, 3, 5000])
def test_the_first_records_in_file_order_and_whether_more_follow(client, add_job, limit: int) -> None:
    path = add_job()
    document = _whole(path)
    answer = client.get(f"{API}/job/{RECORDED_JOB}/requests", query_string={"limit": limit})
    assert answer.status_code == 200
    page = answer.get_json()
    assert page["requests"] == document["requests"][:limit]
    assert page["truncated"] is (len(document["requests"]) > limit)
    assert page["requests_total"] == document["summary"]["total_requests"]
    assert (page["complete"], page["environment"]) == (document["complete"], document["environment"])
    spec = client.get(f"{API}/openapi.json").get_json()
    schema = spec["paths"][f"{API}/job/{{job_id}}/requests"]["get"]["responses"]["200"]
    assert schema_errors(page, schema["content"]["application/json"]["schema"], spec) == []


def test_a_file_without_the_streamed_layout_is_read_whole(client, add_job) -> None:
    path = add_job()
    document = _whole(path)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")  # hand-edited: no compact marker
    page = client.get(f"{API}/job/{RECORDED_JOB}/requests?limit=2").get_json()
    assert page["requests"] == document["requests"][:2] and page["truncated"] is True


@pytest.mark.parametrize("cut", ["inside the first record", "after the head"])
def test_a_file_cut_short_is_422_naming_it(client, add_job, cut: str) -> None:
    path = add_job()
    raw = path.read_bytes()
    at = raw.index(jobfile.STREAM_MARKER) + len(jobfile.STREAM_MARKER)
    path.write_bytes(raw[:at + 20] if cut == "inside the first record" else raw[:at])
    answer = client.get(f"{API}/job/{RECORDED_JOB}/requests?limit=5")
    assert answer.status_code == 422
    assert path.name in answer.get_json()["error"]["message"]


def test_a_long_file_is_read_only_as_far_as_the_page(tmp_path: Path) -> None:
    """Records far past the limit are never decoded: a broken tail does not matter to the first page."""
    records = [{"item_id": f"item-{i}", "attempt": 1, "status_code": 200, "note": "é" * (i % 7)} for i in range(5000)]
    head = {"job_id": "long", "complete": True, "summary": {"total_requests": 5000}}
    body = json.dumps(head, separators=(",", ":"))[:-1].encode() + jobfile.STREAM_MARKER
    body += b",".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() for r in records)
    body += b",{broken"  # never reached
    path = tmp_path / "job_long_20261129_000000.json"
    path.write_bytes(body)
    got, first, more = jobstream.first_requests(path, 4000)
    assert got["job_id"] == "long" and first == records[:4000] and more is True


def test_a_limit_past_the_maximum_is_400_saying_the_range(client, add_job) -> None:
    add_job()
    answer = client.get(f"{API}/job/{RECORDED_JOB}/requests?limit=5001")
    assert answer.status_code == 400
    assert "limit must be a whole number between 1 and 5000" in answer.get_json()["error"]["message"]
