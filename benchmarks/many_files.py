"""The bench's ``status`` section: the dashboard's listing with 1,000 and 30,000 job files in the folder.

Usage (``bench.py``)::

    figures = status_many(work_folder)   # status_ms_1000_files, status_ms_30000_files, jobs_ms_30000_files, ...
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from benchlib import API, dashboard, median_ms


def status_many(work: Path) -> dict[str, Any]:
    """``/status`` with 1,000 job files and with 30,000 (a folder of small jobs under the default quota), the
    folder changed just before each call (its names listed anew, as while jobs finish), and ``/status`` with
    the 30,000 settled (its names remembered, ``collector/job_listing.py``); ``/jobs`` at 30,000, changing."""
    folder = work / "status"
    folder.mkdir()
    sample = json.dumps({"job_id": "x", "complete": True, "summary": {"total_requests": 3}, "requests": []})

    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            (folder / f"job_bench-{i:05d}_2026{1 + i // 86400 % 12:02d}01_{i // 3600 % 24:02d}{i // 60 % 60:02d}"
                      f"{i % 60:02d}.json").write_text(sample)

    def changed() -> None:
        os.utime(folder)  # as a job file written just now would

    figures: dict[str, Any] = {}
    add(0, 1000)
    with dashboard(folder) as url:
        figures["status_ms_1000_files"] = median_ms(url + API + "/status", before=changed)
        add(1000, 30_000)
        figures["status_ms_30000_files"] = median_ms(url + API + "/status", before=changed)
        figures["jobs_ms_30000_files"] = median_ms(url + API + "/jobs", before=changed)
        settled = time.time() - 60
        os.utime(folder, (settled, settled))
        figures["status_ms_30000_files_settled"] = median_ms(url + API + "/status")
    return figures
