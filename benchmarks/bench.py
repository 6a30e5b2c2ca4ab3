"""batch-debug benchmark: what tracing costs, measured side by side.

Usage: python benchmarks/bench.py [--quick] [--only SECTION[,SECTION...]] [--million-requests N]

Starts the Jellyfin simulator in its own process (pinned to CPU 0), then runs
these sections (``--only`` picks some, by name):

- ``sync``: interleaved rounds of five client processes (pinned to CPU 1):
  plain httpx; ours with debug off; ours with debug on, job file included;
  the stock httpx instrumentation with an ALWAYS_OFF sampler; stock with
  ALWAYS_ON and a BatchSpanProcessor feeding an exporter that does nothing.
  Each reports CPU microseconds per request (``client.py``); ratios are of
  medians to plain httpx, from the same rounds.
- ``async``: the same for ``httpx.AsyncClient``: bare, off, on.
- ``threads``: 8 threads sharing one ``httpx.Client``, bare and on: wall time.
- ``aiohttp`` and ``requests``: bare, off, on for each client, ratios to
  that client alone; "skipped: <why>" while ``setup()`` does not instrument it.
- ``small``: the sync client's requests made as jobs of 9 (three items of
  three), each job up to its file on disk, against the same requests
  without jobs: what a job costs besides its requests (an operator reruns
  a few items), which the 3,000-request jobs above spread thin.
- ``layers``: the sync client's "on" with its top layers taken away one at
  a time (``layers.py``: no spans encoded for the file; attempts captured
  but never made spans; job and item spans only), beside the whole and the
  client alone: what each layer costs, so a change knows what it can win.
- ``scale``: one job of 100,000 real requests (10,000 with --quick), debug
  on: peak RSS growth, seconds until its file is complete, bytes per
  request; then ``batch-debug summary`` on that file (a fresh process).
- ``compare`` (with ``scale``): a second run of that job, then ``batch-debug
  compare`` of the two (a fresh process: wall seconds, read from the heads).
- ``status``: ``GET /status`` against ``batch-debug serve`` with 1,000 job
  files in the folder and with 30,000, the folder changed before each call,
  and with the 30,000 settled; ``GET /jobs`` with 30,000 (median ms of 20
  calls each).
- ``million`` (full run only, or when named with ``--only``): one job of
  1,000,000 requests through a real ``httpx.Client`` and our real gate with
  canned answers from memory instead of the network (``synthetic.py``), and
  a 100,000-request job fed the same way for the RSS ratio; the span cap is
  raised so nothing is dropped; skipped below 3 GB of free disk. Then
  ``batch-debug summary`` on the 1M file, and ``/jobs`` and ``/status`` with
  it in the folder.
- ``page``: the dashboard in headless Chromium until the job list and the
  job's summary are drawn (median of 3; ``page.py``), on the 1M file when
  ``million`` ran, else on the scale job's file.

Prints a table (figure, measured, goal, verdict), then as its last line one
JSON object with every figure and each goal beside it (``<key>_goal``).
Timings live here, never in tests: these machines are noisy, so compare
ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


from benchlib import PY, Simulator, dashboard, note, run_json, spread
from big_jobs import MILLION_KEYS, compare_runs, million, page_figures, scale
from goals import json_line, table
from layers import LAYERS
from many_files import status_many
from page import page_seconds

HERE = Path(__file__).resolve().parent
GROUPS: dict[str, tuple[str, ...]] = {
    "sync": ("bare", "off", "on", "stock_off", "stock_on"),
    "async": ("async_bare", "async_off", "async_on"),
    "threads": ("threads_bare", "threads_on"),
    "aiohttp": ("aiohttp_bare", "aiohttp_off", "aiohttp_on"),
    "requests": ("requests_bare", "requests_off", "requests_on"),
    "small": ("small_bare", "small_on"),
    "layers": ("layers_bare", "layers_on", *(f"layers_on_{layer}" for layer in LAYERS)),
}
SECTIONS = (*GROUPS, "scale", "compare", "status", "million", "page")


def overhead(group: str, sim: Simulator, rounds: int, n: int, work: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Interleaved rounds of the group's modes, in a rotating order; figures and notes for the group."""
    modes = list(GROUPS[group])
    metric = "wall_us" if group == "threads" else "cpu_us"
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    skipped: dict[str, str] = {}
    for round_no in range(rounds):
        live = [mode for mode in modes if mode not in skipped]
        shift = round_no % len(live)
        for mode in live[shift:] + live[:shift]:  # no mode always first, or always after the same one
            folder = work / f"{mode}-{round_no}"
            result = run_json([PY, str(HERE / "client.py"), mode, sim.url, sim.item, str(n), str(folder)], cpu=1,
                              quiet=True)
            shutil.rmtree(folder, ignore_errors=True)
            if "skipped" in result:
                skipped[mode] = result["skipped"]
            else:
                results[mode].append(result[metric])
        note(f"  {group} round {round_no + 1}/{rounds}: " + ", ".join(
            f"{mode} {results[mode][-1]:.0f} us" if mode not in skipped else f"{mode} skipped" for mode in modes))
        if all(mode in skipped for mode in modes[1:]):
            break  # nothing to compare the client alone with
    prefix = "" if group == "sync" else f"{group}_"
    bare_key = f"{prefix}{'wall_' if group == 'threads' else ''}us_per_request_bare"
    figures: dict[str, Any] = {}
    notes: dict[str, str] = {}
    bare_mode = modes[0]
    if bare_mode in skipped:
        notes[bare_key] = f"skipped: {skipped[bare_mode]}"
        bare = None
    else:
        bare = statistics.median(results[bare_mode])
        figures[bare_key] = round(bare, 1)
    for mode in modes[1:]:
        key = f"{mode}_vs_bare"
        if mode in skipped or bare is None:
            notes[key] = f"skipped: {skipped.get(mode) or skipped.get(bare_mode)}"
        else:
            figures[key] = round(statistics.median(results[mode]) / bare, 3)
            figures[f"{key}_spread"] = spread(results[mode], results[bare_mode])
    figures[f"{group}_rounds"], figures[f"{group}_requests_per_round"] = rounds, n
    return figures, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under 2 minutes, without the 1M job")
    parser.add_argument("--only", action="append", default=[], metavar="SECTION",
                        help=f"run only these sections (repeat, or comma-separate): {', '.join(SECTIONS)}")
    parser.add_argument("--million-requests", type=int, default=1_000_000, help="size of the big job")
    args = parser.parse_args()
    only = {name.strip() for value in args.only for name in value.split(",") if name.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    chosen = [name for name in SECTIONS if not only or name in only]
    run_million = "million" in chosen and (not args.quick or "million" in only)
    sync_rounds, sync_n, rounds, n, scale_n = (5, 1500, 3, 800, 10_000) if args.quick else (10, 3000, 10, 3000, 100_000)
    figures: dict[str, Any] = {"quick": args.quick, "sections": chosen}
    notes: dict[str, str] = {}
    if "million" in chosen and not run_million:
        notes.update({key: "skipped: full run only (not --quick)" for key in MILLION_KEYS})
    work = Path(tempfile.mkdtemp(prefix="batch-debug-bench-"))
    started = time.perf_counter()
    sim = Simulator.start()
    try:
        for group in GROUPS:
            if group in chosen:
                group_rounds, group_n = (sync_rounds, sync_n) if group == "sync" else (rounds, n)
                note(f"{group}: {group_rounds} interleaved rounds x {group_n:,} requests per client")
                section_started = time.perf_counter()
                got, why = overhead(group, sim, group_rounds, group_n, work)
                figures.update(got)
                notes.update(why)
                note(f"  {group}: {time.perf_counter() - section_started:.0f} s")
        page_source: tuple[Path, int] | None = None
        if "scale" in chosen or ("page" in chosen and not run_million):
            size = scale_n if "scale" in chosen else 10_000
            note(f"scale: one job of {size:,} requests, debug on")
            got, raw = scale(sim, size, work)
            if "scale" in chosen:
                figures.update(got)
            page_source = (work / "scale", raw["total_requests"])
        if "compare" in chosen:
            if "scale" not in chosen:
                notes["compare_s_100k"] = "skipped: compare runs on the scale section's job (add scale)"
            else:
                note(f"compare: a second {scale_n:,}-request run of the scale job, then batch-debug compare")
                figures.update(compare_runs(sim, scale_n, work))
        if "status" in chosen:
            note("status: 1,000 job files, then 30,000")
            figures.update(status_many(work))
        if run_million:
            note(f"million: one job of {args.million_requests:,} requests, canned answers (see synthetic.py)")
            got, why = million(sim, args.million_requests, work, "page" in chosen)
            figures.update(got)
            notes.update(why)
        if "page" in chosen and "page_job_requests" not in figures and page_source is not None:
            notes.pop("page_s", None)  # the 1M job could not run: the page is read on the scale job instead
            folder, total = page_source
            note(f"page: the {total:,}-request job in headless chromium")
            with dashboard(folder) as url:
                figures.update(page_figures(page_seconds(url, "scale", total), total))
    finally:
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)
    page_note = figures.pop("page_note", None)
    if page_note:
        notes["page_s"] = page_note
    figures["bench_s"] = round(time.perf_counter() - started, 1)
    print()
    if "scale_requests" in figures and figures["scale_requests"] != 100_000:
        print(f"(the '100k job' below made {figures['scale_requests']:,} requests: --quick)")
    if figures.get("page_job_requests"):
        print(f"(the page was read on the file of a job of {figures['page_job_requests']:,} requests)")
    for line in table(figures, notes):
        print(line)
    print(json.dumps(json_line(figures, notes)))


if __name__ == "__main__":
    main()
