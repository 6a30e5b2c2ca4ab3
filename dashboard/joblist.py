"""The job list: one page of job files with each job's headline figures.

Usage::

    page = list_page(Path("debug_logs/batch_jobs"), page=1, per_page=20)
    page["jobs"][0]["success_rate_percent"]

Listing is a directory scan (names only, remembered while the folder is
unchanged: ``jobfile.job_files``); only the files of the requested page are
stat'ed and opened. A parsed headline is cached under the file's
(name, mtime, size), so polling the list re-reads a file only when it
changed. A damaged file still gets a row, with ``error`` saying what is wrong
and its figures None, so one bad file never hides the others.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..collector import jobfile

logger = logging.getLogger(__name__)

#: Most parsed headlines kept in memory (oldest dropped first).
CACHE_SIZE = 1024
MAX_PER_PAGE = 100
FIGURES = ("total_requests", "failed_requests", "success_rate_percent", "items_total", "items_failed", "items_succeeded", "item_success_rate_percent")

_cache: OrderedDict[tuple[str, int, int], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def _parse(path: Path) -> dict[str, Any]:
    """The headline fields read from one job file (the expensive part)."""
    try:
        # The summary sits before the (possibly huge) request list, and before the items, left unread.
        data = jobfile.load_head(path, items=False)
    except jobfile.JobFileError as exc:
        return {"complete": None, **dict.fromkeys(FIGURES), "error": str(exc)}
    summary = data.get("summary")
    if not isinstance(summary, dict):
        summary = {}
    headline: dict[str, Any] = {"complete": data.get("complete")}
    headline.update({key: summary.get(key) for key in FIGURES})
    return headline


def headline(info: jobfile.JobFileInfo) -> dict[str, Any]:
    """A job file's row: name, id, time, size and its headline figures."""
    try:
        mtime = os.stat(info.path).st_mtime_ns
    except OSError:
        mtime = 0
    key = (info.path.name, mtime, info.size_bytes)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is None:
        cached = _parse(info.path)
        with _lock:
            _cache[key] = cached
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return {**info.to_dict(), **cached}


def list_page(directory: Path, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """One page of job files, newest first, with headline figures."""
    files = jobfile.job_files(directory)  # names only: the page's files are the ones read
    total = len(files)
    start = (page - 1) * per_page
    return {
        "jobs": [headline(info) for info in files[start:start + per_page]],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": max(1, math.ceil(total / per_page)),
    }
