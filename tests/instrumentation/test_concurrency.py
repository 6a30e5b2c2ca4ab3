"""Many jobs at once in one process: 8 in threads and 8 in asyncio tasks, 60 items each."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from batch_debug.collector import jobfile
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from batch_debug.jellyfin.worker_async import run_job_async
from support import API_KEY, NO_WAIT

JOBS = 8
ITEMS = 30  # enough for every job to overlap every other; the mixing is about concurrency, not volume


def test_sixteen_concurrent_jobs_never_mix(debug_pipeline, make_sim, debug_dir) -> None:
    sim = make_sim("mixed", seed=21, item_count=ITEMS)
    config = WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=2, **NO_WAIT)
    ids = sim.item_ids[:ITEMS]
    results = {}

    def threaded(n: int) -> None:
        results[f"thread-{n}"] = run_job(config, ids, f"thread-{n}")

    async def tasks() -> None:
        done = await asyncio.gather(*(run_job_async(config, ids, f"task-{n}") for n in range(JOBS)))
        results.update({r.job_id: r for r in done})

    threads = [threading.Thread(target=threaded, args=(n,)) for n in range(JOBS)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    debug_pipeline.flush(60)

    files = {info.job_id: jobfile.load(info.path) for info in jobfile.list_job_files(debug_dir)}
    assert sorted(files) == sorted(results)
    total = 0
    for job_id, data in files.items():
        spans = [s for rs in data["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
        assert {s["traceId"] for s in spans} == {data["trace_id"]}, job_id
        assert {r["span_id"] for r in data["requests"]} <= {s["spanId"] for s in spans}
        assert sorted(i["item_id"] for i in data["items"]) == sorted(ids)
        assert data["summary"]["total_requests"] == results[job_id].requests == len(data["requests"])
        assert data["summary"]["items_failed"] == results[job_id].failed
        total += data["summary"]["total_requests"]
    served = sim.stats()
    probes = served["by_route"]["system_info"]
    assert probes == 2 * JOBS
    assert total == served["total"] - probes
    by_status = Counter()
    for data in files.values():
        by_status.update(data["summary"]["status_code_breakdown"])
    expected = Counter(served["by_status"])
    expected["200"] -= probes
    assert by_status == +expected
