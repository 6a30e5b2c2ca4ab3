"""The benchmark's helpers work on tiny inputs (``benchmarks/``; ``make bench`` runs them for real).

No timing is asserted here: only that each piece does what the bench relies
on. The canned transport answers through our real gate inside a recorded
job; each new client mode runs as a process against the simulator and
either records its job or says why it was skipped; the goal table calls a
figure met, missed, skipped or failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from batch_debug.collector import jobfile
from batch_debug.instrumentation import Pipeline, item_span, job_span

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import goals  # noqa: E402
from synthetic import DEFAULT_ANSWER, answer_bytes, canned_transport  # noqa: E402


def test_canned_answers_are_recorded_through_the_real_gate(debug_pipeline: Pipeline, sim) -> None:
    url = f"{sim.url}/Items/abc/Images/Primary"
    transport = canned_transport()
    with httpx.Client(transport=transport) as client:
        with job_span("canned", items_total=2):
            for item in ("a", "b"):
                with item_span(item):
                    for _ in range(3):
                        assert client.get(url).content == bytes(1024)
    path = debug_pipeline.job_file("canned")
    assert path is not None
    data = jobfile.load(path)
    assert data["summary"]["total_requests"] == 6 and data["summary"]["failed_requests"] == 0
    assert data["dropped_spans"] == 0
    records = data["requests"]
    assert [r["status_code"] for r in records] == [200] * 6
    assert [r["connection_reused"] for r in records] == [False] + [True] * 5  # one in-memory connection, kept alive
    assert {r["body_bytes"] for r in records} == {1024} and {r["server"] for r in records} == {"Kestrel"}
    assert transport._pool._network_backend.connections == 1  # noqa: SLF001


def test_a_real_answer_replays_unchanged(sim) -> None:
    url = f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary"
    real = httpx.get(url)
    answer = answer_bytes(real)
    assert answer != DEFAULT_ANSWER
    with httpx.Client(transport=canned_transport(answer)) as client:
        replayed = client.get(url)
    assert replayed.status_code == real.status_code
    assert replayed.content == real.content
    assert replayed.headers["content-type"] == real.headers["content-type"]


@pytest.mark.parametrize("mode", ["async_on", "threads_on", "aiohttp_on", "requests_on"])
def test_client_mode_records_its_job_or_says_why_not(mode: str, sim, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APHRODITE_BATCH_DEBUG")}
    folder = tmp_path / "debug"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "client.py"), mode, sim.url,
                          sim.item_ids[0], "9", str(folder)],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if "skipped" in result:  # aiohttp / requests before batch-debug instruments them
        assert mode.startswith(("aiohttp", "requests")), result
        assert "does not instrument" in result["skipped"] or "not installed" in result["skipped"]
        return
    assert result["n"] == 9 and result["cpu_us"] > 0 and result["wall_us"] > 0
    measured = jobfile.newest_for(folder, "measured")
    assert measured is not None
    summary = jobfile.load(measured)["summary"]
    assert summary["total_requests"] == 9 and summary["items_total"] == 3
    assert summary["requests_outside_jobs"] == 0  # threads ran inside the job's context


def test_small_mode_makes_a_job_file_for_each_nine_requests(sim, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APHRODITE_BATCH_DEBUG")}
    folder = tmp_path / "debug"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "client.py"), "small_on", sim.url,
                          sim.item_ids[0], "20", str(folder)],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["n"] == 20
    totals = {}
    for number in range(4):
        path = jobfile.newest_for(folder, f"measured-{number}")
        totals[number] = None if path is None else jobfile.load(path)["summary"]["total_requests"]
    assert totals == {0: 9, 1: 9, 2: 2, 3: None}


def test_goal_table_says_met_missed_skipped_and_failed() -> None:
    figures = {"off_vs_bare": 1.01, "on_vs_bare": 1.5, "stock_on_vs_bare": 1.55}
    notes = {"async_on_vs_bare": "skipped: not measured here", "page_s": "failed: timed out"}
    rows = {line.split("  ")[0].strip(): line for line in goals.table(figures, notes)[1:]}
    verdicts = {label: line.rsplit("  ", 1)[-1].strip() for label, line in rows.items()}
    label = {goal.key: goal.label for goal in goals.GOALS}
    assert verdicts[label["off_vs_bare"]] == "met"
    assert verdicts[label["on_vs_bare"]] == "missed"
    assert verdicts[label["stock_on_vs_bare"]] == "-"
    assert verdicts[label["async_on_vs_bare"]] == "skipped: not measured here"
    assert verdicts[label["page_s"]] == "failed: timed out"
    assert len(rows) == 5  # figures neither measured nor noted stay out of the table
    line = goals.json_line(figures, notes)
    assert line["on_vs_bare"] == 1.5 and line["on_vs_bare_goal"] == 1.30
    assert "stock_on_vs_bare_goal" not in line
    assert line["async_on_vs_bare"] is None and line["async_on_vs_bare_goal"] == 1.12
    assert line["missed"] == ["on_vs_bare", "page_s"]
    assert line["notes"] == notes


def test_goal_table_shows_the_rounds_spread_and_a_goal_within_it() -> None:
    figures = {"off_vs_bare": 1.029, "off_vs_bare_spread": [0.984, 1.071], "on_vs_bare": 1.45,
               "on_vs_bare_spread": [1.387, 1.562], "stock_on_vs_bare": 1.5, "stock_on_vs_bare_spread": [1.4, 1.6]}
    rows = {line.split("  ")[0].strip(): line for line in goals.table(figures, {})[1:]}
    label = {goal.key: goal.label for goal in goals.GOALS}
    assert rows[label["off_vs_bare"]].endswith("missed (rounds 0.984 to 1.071: the goal is within them)")
    assert rows[label["on_vs_bare"]].endswith("missed (rounds 1.387 to 1.562)")
    assert rows[label["stock_on_vs_bare"]].endswith("- (rounds 1.400 to 1.600)")
    line = goals.json_line(figures, {})
    assert line["off_vs_bare_spread"] == [0.984, 1.071] and line["missed"] == ["off_vs_bare", "on_vs_bare"]


def _spans_in(data: dict) -> list[str]:
    return [span["name"] for group in data["resourceSpans"] for scope in group.get("scopeSpans", [])
            for span in scope.get("spans", [])]


@pytest.mark.parametrize("layer", ["", "unencoded", "unemitted", "unattempted"])
def test_each_layer_taken_away_leaves_the_rest_recorded(layer: str, sim, tmp_path: Path) -> None:
    """``layers_on_<layer>`` takes away just that layer: the job and its file are there, valid, with what
    the layer leaves out missing (the bench's ``layers`` section reads their costs side by side)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APHRODITE_BATCH_DEBUG")}
    folder = tmp_path / "debug"
    mode = f"layers_on_{layer}" if layer else "layers_on"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "client.py"), mode, sim.url,
                          sim.item_ids[0], "9", str(folder)],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["n"] == 9
    measured = jobfile.newest_for(folder, "measured")
    assert measured is not None
    data = jobfile.load(measured)
    assert data["summary"]["items_total"] == 3 and data["complete"] is True
    names = _spans_in(data)
    requests_recorded = layer in ("", "unencoded")
    assert data["summary"]["total_requests"] == (9 if requests_recorded else 0)
    assert len(data["requests"]) == (9 if requests_recorded else 0)
    if layer == "unencoded":
        assert names == [] and data["resourceSpans"] and all(group == {} for group in data["resourceSpans"])
    else:
        assert sum(name.startswith("poster item") or name.startswith("item") for name in names) >= 3, names
        assert sum(name.startswith("GET") for name in names) == (9 if requests_recorded else 0), names


def test_an_unknown_layer_is_refused() -> None:
    import layers

    with pytest.raises(ValueError, match="unknown layer 'everything'"):
        layers.take_away("everything")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "client.py"), "layers_on_everything",
                          "http://127.0.0.1:9", "x", "1", "/nonexistent"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "unknown mode 'layers_on_everything'" in out.stderr
