"""The job files a comparison or a correlation reads, found in the debug folder; shared by the API and the CLI.

Usage::

    base, head, why = runs_to_compare(folder, "nightly", None)   # base chosen by collector.compare.pick_base
    answer = comparison(base, head, why)                           # collector.compare.compare, plus the choice

A run is named by its job id (its newest file) or by a job file's name
(``job_<id>_<stamp>.json``, for an older run of the same id). Errors are
:class:`CompareError` with a sentence; ``status`` says which HTTP status the
API answers with (400 for a malformed name, 404 for one not in the folder,
422 for a damaged file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..collector import compare as cmp, correlate, jobfile, jobstream
from . import joblist


class CompareError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _run(info: jobfile.JobFileInfo) -> cmp.Run:
    failed = joblist.headline(info).get("items_failed")  # cached per file: the job list reads the same heads
    return cmp.Run(info.path.name, info.job_id, info.created_at, failed if isinstance(failed, int) else None)


def resolve(folder: Path, name: str, files: Sequence[jobfile.JobFileInfo]) -> jobfile.JobFileInfo:
    """The file ``name`` means: a job file's name as listed, else a job id's newest file."""
    if jobfile.FILE_RE.match(name):
        for info in files:
            if info.path.name == name:
                return info
        raise CompareError(f"no job file named {name} in the debug folder", 404)
    try:
        jobfile.validate_job_id(name)
    except ValueError as exc:
        raise CompareError(f"{exc} (or give a job file name, job_<id>_<YYYYmmdd_HHMMSS>.json)", 400) from None
    for info in files:  # newest first
        if info.job_id == name:
            return info
    raise CompareError(f"no debug file for job {name!r}: was debug on while it ran?", 404)


def runs_to_compare(folder: Path, head: str, base: str | None) -> tuple[Path, Path, str]:
    """(base file, head file, why this base): ``base`` None picks one (``collector.compare.pick_base``)."""
    files = jobfile.job_files(folder)
    head_info = resolve(folder, head, files)
    if base is not None:
        base_info = resolve(folder, base, files)
        if base_info.path == head_info.path:
            raise CompareError(f"base and head are the same file ({head_info.path.name}): name two runs", 400)
        return base_info.path, head_info.path, "the run asked for"
    chosen, why = cmp.pick_base(_run(head_info), [_run(info) for info in files])
    if chosen is None:
        raise CompareError(f"nothing to compare job {head_info.job_id} with: {why}; name a base run", 404)
    return folder / chosen.name, head_info.path, why


def comparison(base: Path, head: Path, why: str) -> dict[str, Any]:
    """The comparison of the two files' heads, with ``base_chosen_because``."""
    try:
        base_head, head_head = jobfile.load_head(base), jobfile.load_head(head)
    except jobfile.JobFileError as exc:
        raise CompareError(str(exc), 422) from None
    found = cmp.compare(base_head, head_head, base_name=base.name, head_name=head.name)
    return {"base_chosen_because": why, **found}


def correlate_file(path: Path) -> correlate.Correlation:
    """``collector.correlate`` over a job file: items and duration from its head, the requests read one at
    a time. ``jobfile.JobFileError`` when the file is damaged (also when met half-way)."""
    head = jobfile.load_head(path)
    items = head.get("items")
    found = head.get("summary")
    summary: dict[str, Any] = found if isinstance(found, dict) else {}
    seconds = summary.get("duration_seconds")
    duration = float(seconds) * 1000 if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None
    records = (r for r in jobstream.iter_requests(path) if isinstance(r, dict))
    return correlate.correlate(records, [i for i in items if isinstance(i, dict)] if isinstance(items, list) else [],
                               duration_ms=duration)
