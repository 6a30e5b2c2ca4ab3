"""``GET /job/<id>/correlate`` and ``batch-debug summary --correlate``: real jobs, the same answer both ways.

The statistics themselves are tested on generated jobs in
tests/collector/test_correlate.py; here the reference worker runs against
the simulator, so the dimensions come from what the pipeline records.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient

from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.cli import main
from batch_debug.instrumentation import Pipeline
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from dashboard_helpers import API, schema_errors
from support import API_KEY, NO_WAIT


def _app(folder: Path) -> FlaskClient:
    return create_app({"TESTING": True, "DEBUG_DIR": str(folder), "API_TOKEN": None, "JELLYFIN_URL": None,
                       "JELLYFIN_API_KEY": None}).test_client()


def _record(pipeline: Pipeline, url: str, ids: list[str], job_id: str, concurrency: int = 1) -> Path:
    result = run_job(WorkerConfig(server=url, api_key=API_KEY, concurrency=concurrency, **NO_WAIT), ids, job_id)
    assert result.job_file is not None
    return result.job_file


def test_a_proxy_outage_is_named_by_the_api_and_the_cli_alike(debug_pipeline: Pipeline, debug_dir: Path,
                                                              make_sim, clean_env) -> None:
    sim = make_sim("proxy-outage")
    path = _record(debug_pipeline, sim.url, sim.item_ids[:30], "outage-job")
    client = _app(debug_dir)
    answer = client.get(f"{API}/job/outage-job/correlate")
    assert answer.status_code == 200
    found = answer.get_json()
    document = client.get(f"{API}/openapi.json").get_json()
    schema = document["paths"][f"{API}/job/{{job_id}}/correlate"]["get"]["responses"]["200"]
    assert schema_errors(found, schema["content"]["application/json"]["schema"], document) == []
    # The outage answered from the proxy in one stretch of the job: the server and the time say so.
    named = {(v["dimension"], v["value"].split("/")[0]) for v in found["standing_out"]}
    assert ("server", "nginx") in named or any(d == "time" for d, _ in named), found["verdict"]
    assert found["failed_attempts"] == sum(1 for r in json.loads(path.read_text())["requests"]
                                           if (r["status_code"] or 0) >= 400 or r["status_code"] is None)
    printed = CliRunner().invoke(main, ["summary", "--dir", str(debug_dir), "outage-job", "--correlate", "--json"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == found
    text = CliRunner().invoke(main, ["summary", "--dir", str(debug_dir), "outage-job", "--correlate"])
    assert text.exit_code == 0 and found["verdict"] in text.output


def test_a_healthy_concurrent_job_names_nothing_and_records_its_threads(debug_pipeline: Pipeline, debug_dir: Path,
                                                                        make_sim, clean_env) -> None:
    sim = make_sim("healthy")
    path = _record(debug_pipeline, sim.url, sim.item_ids[:12], "healthy-job", concurrency=3)
    items = json.loads(path.read_text())["items"]
    assert len({item["thread"] for item in items}) > 1  # three worker threads ran them
    client = _app(debug_dir)
    found = client.get(f"{API}/job/healthy-job/correlate").get_json()
    assert found["failed_attempts"] == 0 and found["standing_out"] == []
    assert found["verdict"] == "No attempt failed: nothing to correlate."


def test_correlate_is_404_for_an_unknown_job_and_refuses_mixed_flags(debug_dir: Path, clean_env) -> None:
    client = _app(debug_dir)
    assert client.get(f"{API}/job/nothing-here/correlate").status_code == 404
    refused = CliRunner().invoke(main, ["summary", "--dir", str(debug_dir), "x", "--correlate", "--check"])
    assert refused.exit_code == 2 and "--correlate" in refused.output


def test_the_requests_are_read_as_they_come_and_a_cut_file_is_422(debug_pipeline: Pipeline, debug_dir: Path,
                                                                 make_sim, clean_env) -> None:
    from batch_debug.collector import jobfile
    from batch_debug.collector.correlate import correlate

    sim = make_sim("proxy-outage")
    path = _record(debug_pipeline, sim.url, sim.item_ids[:30], "cut-job")
    document = json.loads(path.read_text())
    whole = correlate(document["requests"], document["items"],
                      duration_ms=document["summary"]["duration_seconds"] * 1000).to_dict()
    assert _app(debug_dir).get(f"{API}/job/cut-job/correlate").get_json() == whole  # streamed: the same answer
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(jobfile.STREAM_MARKER) + len(jobfile.STREAM_MARKER) + 500])
    answer = _app(debug_dir).get(f"{API}/job/cut-job/correlate")
    assert answer.status_code == 422 and path.name in answer.get_json()["error"]["message"]
