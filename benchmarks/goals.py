"""The goals (issues 12, 14 and 15), and the table and JSON line ``bench.py`` ends with.

Usage::

    lines = table(figures, notes)        # figure, measured, goal, met / missed / skipped
    line = json_line(figures, notes)     # every figure, each goal as "<key>_goal" beside it

``figures`` maps a key to a number (or None when not measured); ``notes``
maps a key to why it has no number: ``"skipped: ..."`` (it cannot be measured
here, or this run does not measure it) or ``"failed: ..."`` (it was tried and
failed: a missed goal). A goal is an upper bound; a figure without one is
shown for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Goal:
    """One figure of the table: its key in the JSON line, a label, its unit and its upper bound."""

    key: str
    label: str
    unit: str = "x"
    limit: float | None = None


GOALS: tuple[Goal, ...] = (
    Goal("us_per_request_bare", "sync httpx.Client alone, CPU per request", "us"),
    Goal("off_vs_bare", "sync, debug off (instrumentation installed)", "x", 1.02),
    Goal("on_vs_bare", "sync, debug on, job file on disk included", "x", 1.30),
    Goal("stock_off_vs_bare", "sync, stock instrumentation, ALWAYS_OFF", "x"),
    Goal("stock_on_vs_bare", "sync, stock, ALWAYS_ON + batch, no-op exporter", "x"),
    Goal("async_us_per_request_bare", "httpx.AsyncClient alone, CPU per request", "us"),
    Goal("async_off_vs_bare", "async, debug off", "x", 1.02),
    Goal("async_on_vs_bare", "async, debug on, job file included", "x", 1.12),
    Goal("threads_wall_us_per_request_bare", "8 threads, one httpx.Client, wall per request", "us"),
    Goal("threads_on_vs_bare", "8 threads, debug on, wall time vs bare", "x", 1.35),
    Goal("aiohttp_us_per_request_bare", "aiohttp alone, CPU per request", "us"),
    Goal("aiohttp_off_vs_bare", "aiohttp, debug off", "x", 1.03),
    Goal("aiohttp_on_vs_bare", "aiohttp, debug on, job file included", "x", 1.5),
    Goal("requests_us_per_request_bare", "requests alone, CPU per request", "us"),
    Goal("requests_off_vs_bare", "requests, debug off", "x", 1.03),
    Goal("requests_on_vs_bare", "requests, debug on, job file included", "x", 1.5),
    # No issue sets a bound for small jobs: shown so that what a job costs besides its requests is seen.
    Goal("small_us_per_request_bare", "sync httpx.Client alone (the small jobs' requests)", "us"),
    Goal("small_on_vs_bare", "jobs of 9 requests, debug on, each job's file included", "x"),
    # Where "on" goes (layers.py): the same sync job with its top layers taken away, one at a time.
    Goal("layers_us_per_request_bare", "sync httpx.Client alone (the layers' requests)", "us"),
    Goal("layers_on_vs_bare", "layers: debug on, whole", "x"),
    Goal("layers_on_unencoded_vs_bare", "layers: on, no spans encoded for the file", "x"),
    Goal("layers_on_unemitted_vs_bare", "layers: on, attempts captured, no spans or records", "x"),
    Goal("layers_on_unattempted_vs_bare", "layers: on, job and item spans only", "x"),
    # The issues set no bound for the 100k job itself: shown to compare with the 1M job's.
    Goal("rss_growth_mb_100k", "100k job (real requests): peak RSS growth", "MB"),
    Goal("rss_growth_mb_100k_job_end", "100k job: RSS growth when its job span ends (before the head)", "MB"),
    Goal("file_complete_s_100k", "100k job: file complete after the job ends", "s"),
    Goal("bytes_per_request_100k", "100k job: file bytes per request", "B"),
    Goal("summary_s_100k", "100k job: `batch-debug summary`", "s"),
    Goal("compare_s_100k", "compare two runs of the 100k job (fresh process)", "s", 2),
    Goal("status_ms_1000_files", "GET /status with 1,000 job files (folder just changed)", "ms", 100),
    Goal("status_ms_30000_files", "GET /status with 30,000 job files (folder just changed)", "ms"),
    Goal("jobs_ms_30000_files", "GET /jobs with 30,000 job files (folder just changed)", "ms"),
    Goal("status_ms_30000_files_settled", "GET /status with 30,000 job files, folder settled", "ms"),
    Goal("rss_growth_mb_1m", "1M job: peak RSS growth", "MB", 40),
    Goal("rss_growth_mb_1m_job_end", "1M job: RSS growth when its job span ends (before the head)", "MB"),
    Goal("rss_growth_mb_100k_synthetic", "100k job, same synthetic feed: peak RSS growth", "MB"),
    Goal("rss_growth_ratio_1m_100k", "1M job: RSS growth vs the 100k job's", "x", 1.2),
    Goal("file_ready_s_1m", "1M job: file ready after the job ends", "s", 10),
    Goal("bytes_per_request_1m", "1M job: file bytes per request", "B", 1100),
    Goal("dropped_spans_1m", "1M job: dropped spans", "", 0),
    Goal("summary_s_1m", "1M job: `batch-debug summary`", "s", 3),
    Goal("jobs_ms_1m", "GET /jobs with the 1M file present", "ms", 100),
    Goal("status_ms_1m", "GET /status with the 1M file present", "ms", 100),
    Goal("page_s", "page: job list + summary drawn (median of 3)", "s", 2),
)


def verdict(goal: Goal, value: Any, note: str | None, spread: Any = None) -> str:
    """``met``, ``missed``, ``skipped: why``, ``failed: why`` or ``-`` (no goal).

    ``spread`` is ``[lowest, highest]`` of a ratio's rounds (``<key>_spread``), each round's figure
    against the client alone in the same round: shown after the verdict, which a goal within it
    could have gone either way in another run.
    """
    if value is None:
        return note or "skipped: not measured"
    if goal.limit is None:
        said = "-"
    else:
        said = "met" if value <= goal.limit else "missed"
    if isinstance(spread, list) and len(spread) == 2:
        low, high = spread
        said += f" (rounds {low:.3f} to {high:.3f}"
        said += ": the goal is within them)" if goal.limit is not None and low <= goal.limit <= high else ")"
    return said


def _shown(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and unit != "x":
        return f"{value:,.1f}" if value >= 10 else f"{value:,.3f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}"


def table(figures: dict[str, Any], notes: dict[str, str]) -> list[str]:
    """The figure / measured / goal / verdict table, one line per goal with a figure or a note."""
    lines = [f"{'figure':<52}{'measured':>12}  {'goal':<10}verdict"]
    for goal in GOALS:
        if goal.key not in figures and goal.key not in notes:
            continue
        value = figures.get(goal.key)
        limit = "" if goal.limit is None else f"<= {goal.limit:g}"
        unit = f" {goal.unit}" if goal.unit not in ("", "x") else ""
        lines.append(f"{goal.label:<52}{_shown(value, goal.unit) + unit:>12}  {limit:<10}"
                     f"{verdict(goal, value, notes.get(goal.key), figures.get(goal.key + '_spread'))}")
    return lines


def json_line(figures: dict[str, Any], notes: dict[str, str]) -> dict[str, Any]:
    """Every figure, ``<key>_goal`` beside each one with a goal, then which goals were missed and the notes."""
    line: dict[str, Any] = {}
    known = {goal.key: goal for goal in GOALS}
    for key, value in figures.items():
        line[key] = value
        goal = known.get(key)
        if goal is not None and goal.limit is not None:
            line[f"{key}_goal"] = goal.limit
    for goal in GOALS:  # a goal whose figure is missing still shows, with null
        if goal.key in notes and goal.key not in line:
            line[goal.key] = None
            if goal.limit is not None:
                line[f"{goal.key}_goal"] = goal.limit
    line["missed"] = [goal.key for goal in GOALS if goal.limit is not None and goal.key in line
                      and verdict(goal, line[goal.key], notes.get(goal.key)).startswith(("missed", "failed"))]
    line["notes"] = notes
    return line
