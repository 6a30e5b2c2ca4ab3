"""``GET /job/<id>/har`` and ``batch-debug har``: a recorded job as HAR 1.2, valid, whole and without the key."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.cli import main
from batch_debug.instrumentation import item_span, job_span
from dashboard_helpers import API, RECORDED_JOB, schema_errors
from har_support import har_errors
from support import API_KEY


def _requests_of(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["requests"]


def test_the_har_route_sends_a_valid_archive_of_every_attempt(client, add_job) -> None:
    path = add_job()
    answer = client.get(f"{API}/job/{RECORDED_JOB}/har")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="job_{RECORDED_JOB}.har"'
    archive = answer.get_json()
    assert har_errors(archive) == []
    requests = _requests_of(path)
    entries = archive["log"]["entries"]
    assert [(e["request"]["method"], e["response"]["status"]) for e in entries] == [
        (r["method"], r["status_code"] or 0) for r in requests]
    document = client.get(f"{API}/openapi.json").get_json()
    documented = document["paths"][f"{API}/job/{{job_id}}/har"]["get"]["responses"]["200"]
    assert "Content-Disposition" in documented["headers"]
    assert schema_errors(archive, documented["content"]["application/json"]["schema"], document) == []


def test_the_har_route_is_404_for_an_unknown_job_and_400_for_a_bad_id(client, add_job) -> None:
    add_job()
    answer = client.get(f"{API}/job/nothing-here/har")
    assert answer.status_code == 404 and "nothing-here" in answer.get_json()["error"]["message"]
    assert client.get(f"{API}/job/bad%20id/har").status_code == 400


@pytest.mark.parametrize("damage", ["cut short", "requests not a list"])
def test_a_damaged_file_is_422_naming_it(client, add_job, damage) -> None:
    if damage == "cut short":
        path = add_job("broken")
        whole = path.read_bytes()
        path.write_bytes(whole[:len(whole) * 2 // 3])
    else:
        path = add_job("broken", mutate=lambda doc: doc.update(requests={"not": "a list"}))
    answer = client.get(f"{API}/job/broken/har")
    assert answer.status_code == 422
    assert path.name in answer.get_json()["error"]["message"]


def test_the_har_command_prints_or_writes_the_same_archive(client, add_job, job_dir, tmp_path) -> None:
    path = add_job()
    runner = CliRunner()
    printed = runner.invoke(main, ["har", RECORDED_JOB, "--dir", str(job_dir)])
    assert printed.exit_code == 0, printed.output
    archive = json.loads(printed.stdout)
    assert har_errors(archive) == []
    assert archive == client.get(f"{API}/job/{RECORDED_JOB}/har").get_json()
    out = tmp_path / "job.har"
    written = runner.invoke(main, ["har", str(path), "-o", str(out)])
    assert written.exit_code == 0, written.output
    assert written.stdout == ""  # the archive went to the file, only a note to stderr
    assert json.loads(out.read_text(encoding="utf-8")) == archive
    assert len(archive["log"]["entries"]) == len(_requests_of(path))


def test_the_har_command_ends_with_one_error_line(add_job, job_dir) -> None:
    add_job("broken", mutate=lambda doc: doc.update(requests=[1, 2]))
    runner = CliRunner()
    for args, expected in ((["har", "broken"], "damaged"), (["har", "nothing-here"], "no job file")):
        result = runner.invoke(main, [*args, "--dir", str(job_dir)])
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert expected in result.stderr


def test_the_har_holds_no_key_sent_in_any_form(debug_pipeline, debug_dir, make_sim) -> None:
    sim = make_sim("mixed", seed=8)
    forms = {  # the key as a header, an ApiKey query parameter, and MediaBrowser's Token="..."
        "x-emby-token": ({"X-Emby-Token": API_KEY}, {}),
        "ApiKey": ({}, {"ApiKey": API_KEY}),
        "Token": ({"Authorization": f'MediaBrowser Client="t", Device="d", DeviceId="1", Version="1", '
                                    f'Token="{API_KEY}"'}, {}),
    }
    ids = sim.demo_item_ids(12, seed=8)
    with job_span("har-secret"):
        for headers, params in forms.values():
            with httpx.Client(headers=headers, params=params) as http:
                for item_id in ids:
                    with item_span(item_id):
                        http.get(f"{sim.url}/Items/{item_id}")
    debug_pipeline.flush(10)
    assert debug_pipeline.job_file("har-secret") is not None
    answer = create_app({"DEBUG_DIR": str(debug_dir), "API_TOKEN": ""}).test_client().get(
        f"{API}/job/har-secret/har")
    assert answer.status_code == 200
    printed = CliRunner().invoke(main, ["har", "har-secret", "--dir", str(debug_dir)])
    assert printed.exit_code == 0, printed.output
    produced = {"route": answer.data, "command": printed.stdout.encode()}
    assert {where for where, data in produced.items() if API_KEY.encode() in data} == set()
    archive = json.loads(answer.data)
    assert har_errors(archive) == []
    entries = archive["log"]["entries"]
    assert len(entries) == 3 * len(ids)
    # The key was in what was recorded (every form), and is redacted in the archive.
    assert any({"name": "ApiKey", "value": "[REDACTED]"} in e["request"]["queryString"] for e in entries)
    sent_headers = {h["name"].lower(): h["value"] for e in entries for h in e["request"]["headers"]}
    assert sent_headers["x-emby-token"] == "[REDACTED]"
    assert 'Token="[REDACTED]"' in sent_headers["authorization"]
