"""The scale run, in its own process: one long job with debug on.

Usage: python benchmarks/scale.py URL ITEM_ID N DEBUG_DIR [--synthetic ANSWER_FILE]

Prints one JSON line: peak RSS growth during the job (sampled every 50 ms
from /proc/self/statm, from a baseline taken after a warm-up job), seconds
from the job span's end to its file being complete, the file's bytes per
request, the job's own seconds and the requests made. Progress goes to
stderr every tenth of the job.

``--synthetic``: the requests go through a real ``httpx.Client`` and our
real gate, but their answers come from memory (``synthetic.py``: the bytes
in ANSWER_FILE, a real answer of the server, fetched once): the million-
request job without a million network round trips. Without it every request
goes to the server.
"""

from __future__ import annotations

import argparse
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
PER_ITEM = 3


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def run_job(client: httpx.Client, url: str, n: int, job_id: str, *, progress: bool = False) -> float:
    """``n`` requests in items of three, inside one job span; the perf_counter time its span ended."""
    step = max(n // 10, 1)
    started = time.perf_counter()
    with job_span(job_id, items_total=-(-n // PER_ITEM)):
        done = 0
        while done < n:
            with item_span(f"item-{done // PER_ITEM}"):
                for _ in range(min(PER_ITEM, n - done)):
                    client.get(url)
                    done += 1
            if progress and done % step < PER_ITEM and done < n:
                print(f"    {done:,} of {n:,} requests, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("item")
    parser.add_argument("n", type=int)
    parser.add_argument("folder")
    parser.add_argument("--synthetic", metavar="ANSWER_FILE", help="canned answers (see the module doc)")
    args = parser.parse_args()
    url = f"{args.url}/Items/{args.item}/Images/Primary"
    pipeline = setup(args.folder)
    transport = None
    if args.synthetic:
        from synthetic import canned_transport

        with open(args.synthetic, "rb") as handle:
            transport = canned_transport(handle.read())
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.05)

    with httpx.Client(transport=transport) as client:
        run_job(client, url, 200, "warmup")
        pipeline.flush(60)
        baseline = rss_bytes()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        ended = run_job(client, url, args.n, "scale", progress=True)
        # What the job holds while it runs (the writer may still be catching up on the last batches).
        at_end = rss_bytes()
        path = pipeline.job_file("scale", timeout=3600)
        complete_s = time.perf_counter() - ended
        stop.set()
        sampler.join()
    size = os.path.getsize(path) if path else 0
    print(json.dumps({
        "requests": args.n,
        "synthetic": bool(args.synthetic),
        "job_s": round(ended - started, 1),
        "rss_growth_mb": round((peak[0] - baseline) / 2**20, 1),
        "rss_growth_mb_job_end": round((at_end - baseline) / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "file_complete_s": round(complete_s, 3),
        "bytes_per_request": round(size / args.n, 1),
        "file": str(path),
    }))


if __name__ == "__main__":
    main()
