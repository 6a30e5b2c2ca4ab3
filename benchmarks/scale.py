"""The scale run, in its own process: one long job with debug on.

Usage: python benchmarks/scale.py URL ITEM_ID N DEBUG_DIR

Prints one JSON line: peak RSS growth during the job (sampled every 50 ms
from /proc/self/statm), seconds from the job span's end to its file being
complete, the file's bytes per request, and the requests made.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time

os.environ["APHRODITE_BATCH_DEBUG"] = "true"

import httpx  # noqa: E402

from batch_debug.instrumentation import item_span, job_span, setup  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def main() -> None:
    base, item, n, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    url = f"{base}/Items/{item}/Images/Primary"
    pipeline = setup(folder)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.05)

    with httpx.Client() as client:
        with job_span("warmup"):
            with item_span("w"):
                for _ in range(200):
                    client.get(url)
        pipeline.flush(60)
        baseline = rss_bytes()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with job_span("scale", items_total=n // 3):
            done = 0
            while done < n:
                with item_span(f"item-{done // 3}"):
                    for _ in range(min(3, n - done)):
                        client.get(url)
                        done += 1
        ended = time.perf_counter()
        path = pipeline.job_file("scale", timeout=600)
        complete_s = time.perf_counter() - ended
        stop.set()
        sampler.join()
    size = os.path.getsize(path) if path else 0
    print(json.dumps({
        "requests": n,
        "rss_growth_mb": round((peak[0] - baseline) / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "file_complete_s": round(complete_s, 3),
        "bytes_per_request": round(size / n, 1),
        "file": str(path),
    }))


if __name__ == "__main__":
    main()
