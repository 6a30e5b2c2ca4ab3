"""Input meant to break the API gets a JSON 4xx, never a 500; a job file swapped for a link is never followed."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from batch_debug.collector.switch import DebugSwitch
from batch_debug.dashboard.jsonbody import nesting_depth
from dashboard_helpers import API, RECORDED_JOB, error_of


@pytest.mark.parametrize("url", [f"{API}/enable", f"{API}/disable", f"{API}/test-item"])
@pytest.mark.parametrize("depth", [17, 5_000, 30_000])
def test_deeply_nested_json_is_400_not_a_recursion_error(client, job_dir, url, depth) -> None:
    for body in ("[" * depth + "]" * depth, '{"duration_minutes":' + "[" * depth + "]" * depth + "}"):
        answer = client.post(url, data=body, content_type="application/json")
        assert answer.status_code == 400, body[:40]
        assert "nests" in error_of(answer)["message"]
    assert not DebugSwitch(job_dir).is_on()


def test_nesting_is_counted_outside_strings_only() -> None:
    assert nesting_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "]]]\\"[["}]}') == 3
    assert nesting_depth(b"30") == 0


@pytest.mark.parametrize("url", [f"{API}/enable", f"{API}/disable", f"{API}/test-item"])
def test_a_json_body_over_64_kib_is_413(client, url) -> None:
    body = '{"duration_minutes": 5, "pad": "' + "x" * (70 << 10) + '"}'
    answer = client.post(url, data=body, content_type="application/json")
    assert answer.status_code == 413
    assert "at most 65536 bytes" in error_of(answer)["message"]


def test_a_tighter_json_limit_comes_from_the_settings(make_app) -> None:
    client = make_app(MAX_JSON_BYTES=100, MAX_JSON_DEPTH=2).test_client()
    assert client.post(f"{API}/enable", data='{"duration_minutes": 5' + " " * 100 + "}",
                       content_type="application/json").status_code == 413
    assert client.post(f"{API}/enable", data='{"duration_minutes": [[1]]}',
                       content_type="application/json").status_code == 400
    assert client.post(f"{API}/enable", json={"duration_minutes": 5}).status_code == 200


@pytest.mark.parametrize("body", [b"\xff\xfe{}", b'{"duration_minutes": 1' + b"0" * 5000 + b"}", b'{"a": NaN}',
                                  b'"\\ud800"', b'"' + b'\\"' * 30_000],
                         ids=["not-utf8", "5000-digits", "nan-field", "lone-surrogate", "30000-escaped-quotes"])
def test_odd_json_is_400(client, body) -> None:
    answer = client.post(f"{API}/enable", data=body, content_type="application/json")
    assert answer.status_code == 400


def test_disable_refuses_unknown_fields(client, job_dir) -> None:
    client.post(f"{API}/enable", json={"duration_minutes": 5})
    answer = client.post(f"{API}/disable", json={"force": True})
    assert answer.status_code == 400
    assert "Unknown field(s) 'force'; this route takes none" in error_of(answer)["message"]
    assert DebugSwitch(job_dir).is_on()
    assert client.post(f"{API}/disable", json={}).status_code == 200
    assert not DebugSwitch(job_dir).is_on()


@pytest.mark.parametrize("days", ["²", "٣", "３", "1_0", "+3", "3.0", "0x1", "٠"])
def test_cleanup_days_are_ascii_digits_only(client, add_job, days) -> None:
    path = add_job("kept", when=datetime.now(timezone.utc) - timedelta(days=100))
    answer = client.delete(f"{API}/cleanup", query_string={"days": days})
    assert answer.status_code == 400
    assert "days must be a whole number" in error_of(answer)["message"]
    assert path.exists()


@pytest.mark.parametrize("params", [{"page": "٣"}, {"per_page": "²"}, {"page": "1_0"}, {"per_page": "+5"}])
def test_job_list_paging_is_ascii_digits_only(client, params) -> None:
    answer = client.get(f"{API}/jobs", query_string=params)
    assert answer.status_code == 400
    error_of(answer)


@pytest.mark.parametrize("route", ["full-log", "summary", "trace"])
def test_a_job_file_swapped_for_a_link_is_never_followed(client, job_dir, add_job, tmp_path: Path, route) -> None:
    """The name flips between the real file and a link to a file outside the folder while it is requested.

    The outside file is a job file too (with a marker), so a route that followed the link would answer 200
    with it: each route reads what it checked, by descriptor.
    """
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "passwd"
    secret.write_text(json.dumps({"summary": {"marker": "OUTSIDE-THE-DEBUG-FOLDER"}, "resourceSpans": [
        {"resource": {"attributes": [{"key": "marker", "value": {"stringValue": "OUTSIDE-THE-DEBUG-FOLDER"}}]}}]}))
    real = add_job(RECORDED_JOB)
    whole = client.get(f"{API}/job/{RECORDED_JOB}/{route}").get_data()
    keep = job_dir / ".keep"  # not a job file name: the real content, to link back in
    os.link(real, keep)
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.symlink(secret, job_dir / ".link")
            os.replace(job_dir / ".link", real)
            os.link(keep, job_dir / ".real")
            os.replace(job_dir / ".real", real)

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    statuses: dict[int, int] = {}
    try:
        for _ in range(1000):
            answer = client.get(f"{API}/job/{RECORDED_JOB}/{route}")
            data = answer.get_data()
            answer.close()
            assert b"OUTSIDE-THE-DEBUG-FOLDER" not in data
            # 404: the listing met the link (links are not job files); 422: the link came between listing and open.
            assert answer.status_code in (200, 404, 422), answer.status_code
            if answer.status_code == 200:
                assert data == whole
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    finally:
        stop.set()
        swapper.join(10)
    assert statuses.get(200) and (statuses.get(404) or statuses.get(422)), statuses  # both states were met
