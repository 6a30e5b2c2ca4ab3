"""The bench's big-job sections: one job of many requests in its own process (``scale.py``).

- :func:`scale`: the 100,000 real requests, debug on (``scale``);
- :func:`compare_runs`: a second run of it, then ``batch-debug compare`` (``compare``);
- :func:`million`: the synthetic 1M-request job, the 100k one fed the same way for the RSS ratio, and
  ``/jobs``, ``/status`` and the page with its file present (``million``).

``bench.py`` runs them and prints the table; their figures' keys are the ones ``goals.py`` knows.
"""

from __future__ import annotations

import subprocess
import json
import time
from pathlib import Path
from typing import Any

import httpx

from batch_debug.collector import insert_range
from benchlib import API, PY, Simulator, clean_env, dashboard, free_gb, median_ms, note, run_json, summary_of
from page import page_seconds

HERE = Path(__file__).resolve().parent
MIN_FREE_GB = 3.0


def scale_job(sim: Simulator, n: int, folder: Path, *, answer: Path | None = None,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """``scale.py`` in its own process (CPU 1): its JSON line; ``answer`` feeds it canned answers."""
    extra = ["--synthetic", str(answer)] if answer is not None else []
    return run_json([PY, str(HERE / "scale.py"), sim.url, sim.item, str(n), str(folder), *extra], env=env, cpu=1)


def scale(sim: Simulator, n: int, work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The real-request job: its figures, and the raw result (for the page section)."""
    result = scale_job(sim, n, work / "scale")
    result["summary_s"], summary = summary_of(result["file"])
    result["total_requests"] = summary.get("total_requests", n)
    # The keys say 100k whatever --quick makes the job (scale_requests says how many): one set of keys to read.
    figures = {"scale_requests": n, "rss_growth_mb_100k": result["rss_growth_mb"],
               "rss_growth_mb_100k_job_end": result.get("rss_growth_mb_job_end"),
               "file_complete_s_100k": result["file_complete_s"],
               "bytes_per_request_100k": result["bytes_per_request"], "summary_s_100k": result["summary_s"]}
    return figures, result


def compare_runs(sim: Simulator, n: int, work: Path) -> dict[str, Any]:
    """A second run of the scale job into its folder, then ``batch-debug compare scale`` (a fresh process,
    wall seconds): two n-request runs compared from their file heads (issue 14: <= 2 s at 100k each)."""
    second = scale_job(sim, n, work / "scale")
    started = time.perf_counter()
    out = subprocess.run([PY, "-m", "batch_debug.dashboard.cli", "compare", "--dir", str(work / "scale"), "scale",
                          "--json"], capture_output=True, text=True, check=True)
    seconds = round(time.perf_counter() - started, 3)
    found = json.loads(out.stdout)
    assert found["head"]["file"] == Path(second["file"]).name, found["head"]
    return {"compare_s_100k": seconds, "compare_requests_each": n}


MILLION_KEYS = ("rss_growth_mb_1m", "rss_growth_mb_1m_job_end", "rss_growth_ratio_1m_100k", "file_ready_s_1m", "bytes_per_request_1m",
                "dropped_spans_1m", "summary_s_1m", "jobs_ms_1m", "status_ms_1m")


def million(sim: Simulator, n: int, work: Path, with_page: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The synthetic 1M job and the figures read with its file present (see the module doc)."""
    free = free_gb(work)
    if free < MIN_FREE_GB:
        why = f"skipped: {free:.1f} GB free in {work}, the 1M job needs {MIN_FREE_GB:.0f} GB"
        return {}, {key: why for key in (*MILLION_KEYS, *(("page_s",) if with_page else ()))}
    answer = work / "answer.http"
    from synthetic import answer_bytes

    answer.write_bytes(answer_bytes(httpx.get(sim.poster_url(), timeout=10)))
    # Room for every span (requests + items + job) and every byte: nothing dropped, nothing deleted.
    env = clean_env(APHRODITE_BATCH_DEBUG_MAX_SPANS=str(2 * n + 1000), APHRODITE_BATCH_DEBUG_MAX_MB="1000000")
    started = time.perf_counter()
    small_n = min(100_000, n)
    note(f"  million: first a {small_n:,}-request job fed the same way (for the RSS ratio)")
    small = scale_job(sim, small_n, work / "million-small", answer=answer, env=env)
    note(f"  million: now {n:,} requests ({free:.0f} GB free); elapsed {time.perf_counter() - started:.0f} s")
    big = scale_job(sim, n, work / "million", answer=answer, env=env)
    note(f"  million: the job took {big['job_s']:.0f} s, its file {big['file_complete_s']:.1f} s more; "
         f"elapsed {time.perf_counter() - started:.0f} s")
    summary_s, summary = summary_of(big["file"])
    figures: dict[str, Any] = {
        "million_requests": n,
        "million_feed": "synthetic: real httpx.Client + our gate + httpcore/h11, canned answers from memory "
                        "(benchmarks/synthetic.py) instead of the network",
        "rss_growth_mb_1m": big["rss_growth_mb"], "rss_growth_mb_100k_synthetic": small["rss_growth_mb"],
        "rss_growth_ratio_1m_100k": round(big["rss_growth_mb"] / max(small["rss_growth_mb"], 0.1), 2),
        "rss_growth_mb_1m_job_end": big.get("rss_growth_mb_job_end"),
        "file_ready_s_1m": big["file_complete_s"], "bytes_per_request_1m": big["bytes_per_request"],
        # How the job file was put together here (spool_files.around_spans): it decides much of file_ready.
        "file_made_1m": "around the spans' spool file (FALLOC_FL_INSERT_RANGE)" if insert_range.works_in(work)
                        else "copied: this file system cannot insert room at a file's start",
        "job_s_1m": big["job_s"], "dropped_spans_1m": summary.get("dropped_spans"),
        "total_requests_1m": summary.get("total_requests"), "summary_s_1m": summary_s,
    }
    note(f"  million: /jobs and /status with the {Path(big['file']).stat().st_size / 1e9:.2f} GB file present")
    with dashboard(work / "million") as url:
        figures["jobs_ms_1m"] = median_ms(url + API + "/jobs")
        figures["status_ms_1m"] = median_ms(url + API + "/status")
        if with_page:
            note("  page: the 1M job in headless chromium")
            total = int(summary.get("total_requests") or n)
            figures.update(page_figures(page_seconds(url, "scale", total), total))
    figures["million_elapsed_s"] = round(time.perf_counter() - started, 1)
    return figures, {}


def page_figures(page: dict[str, Any], requests: int) -> dict[str, Any]:
    """``page_seconds``'s answer as figures (its note is moved to the notes by ``main``)."""
    return {"page_s": page.get("page_s"), "page_runs_s": page.get("page_runs_s"), "page_job_requests": requests,
            "page_note": page.get("note")}
