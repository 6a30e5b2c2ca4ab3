"""What every scenario checks of a job file, whatever the shape."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from batch_debug.collector import jobfile

#: Advice the first round gave for the wrong reasons (and its grammar); no scenario may show it again.
WRONG_ADVICE = re.compile(
    r"persistent for these items|retries won't help|individual processing|Custom ID Test|item\(s\)"
    r"|check the Jellyfin API key in the configuration|happened in the worker|(?<![\d.])1 (?:items|attempts|requests)\b")


def load(pipeline: Any, job_id: str) -> dict[str, Any]:
    path = pipeline.job_file(job_id)
    assert path is not None, f"no job file for {job_id}"
    return jobfile.load(path)


def served_by_job(sim: Any) -> list[dict[str, Any]]:
    """What the simulator saw of the job (our one /System/Info/Public probe left out)."""
    return [r for r in sim.stats()["requests"] if r.get("seq") is not None]


def findings(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {f["id"]: f for f in data["summary"]["findings"]}
    assert len(found) == len(data["summary"]["findings"]), "a finding id given twice"
    return found


def check_common(data: dict[str, Any], sent: int, *, forbidden: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Counts add up, the client's count matches (``sent``: every attempt, redirect hops
    included), no wrong advice; returns the findings by id."""
    summary = data["summary"]
    assert summary["total_requests"] == len(data["requests"]) == sent
    assert sum(summary["status_code_breakdown"].values()) == sent
    text = " ".join(summary["recommendations"])
    wrong = WRONG_ADVICE.search(text)
    assert wrong is None, (wrong, text)
    found = findings(data)
    for finding_id in forbidden:
        assert finding_id not in found, (finding_id, summary["recommendations"])
    if found:
        assert not text.startswith("No problems")
    return found


def statuses(data: dict[str, Any]) -> Counter[str]:
    return Counter(data["summary"]["status_code_breakdown"])
