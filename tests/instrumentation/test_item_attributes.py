"""``item_span.set_attribute`` and the item's thread: recorded in the item record, redacted, never raising."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx

from batch_debug.instrumentation import Pipeline, item_span, job_span
from support import API_KEY


def test_item_attributes_and_threads_reach_the_item_records(debug_pipeline: Pipeline, sim, caplog) -> None:
    ids = sim.item_ids[:2]
    with job_span("attrs"):
        with httpx.Client(headers={"X-Emby-Token": API_KEY}) as client:
            with item_span(ids[0]) as item:
                client.get(f"{sim.url}/Items/{ids[0]}")
                item.set_attribute("library", "anime")
                item.set_attribute("season", 3)
                item.set_attribute("note", f"sent with {API_KEY}")  # learned from the request: redacted
                with caplog.at_level(logging.WARNING):
                    item.set_attribute("bad key!", "x")
                    item.set_attribute("list", [1, 2])  # type: ignore[arg-type]

        async def task_item() -> None:
            async with item_span(ids[1]):
                pass

        async def main() -> None:
            await asyncio.create_task(task_item(), name="poster-task-7")

        asyncio.run(main())
    path = debug_pipeline.job_file("attrs")
    assert path is not None
    items = {i["item_id"]: i for i in json.loads(path.read_text())["items"]}
    assert items[ids[0]]["attributes"] == {"library": "anime", "season": 3, "note": "sent with [REDACTED]"}
    assert items[ids[0]]["thread"] == "MainThread"
    assert items[ids[1]]["thread"] == "poster-task-7" and "attributes" not in items[ids[1]]
    dropped = [r.getMessage() for r in caplog.records if "item attribute" in r.getMessage()]
    assert len(dropped) == 2 and "bad key!" in dropped[0] and "list" in dropped[1]


def test_set_attribute_outside_a_recorded_job_does_nothing(off_pipeline: Pipeline) -> None:
    with job_span("off"):
        with item_span("x") as item:
            item.set_attribute("library", "anime")
            item.set_attribute("bad key!", object())  # type: ignore[arg-type]
    assert item.attributes == {}
    assert off_pipeline.job_file("off", timeout=0.2) is None


def test_an_attempt_sent_from_another_thread_than_its_items_names_it(debug_pipeline: Pipeline, sim) -> None:
    """An item fanning its requests out to a pool: those attempts carry their own thread; the rest do not."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from batch_debug.collector import jobfile
    from batch_debug.collector.correlate import correlate

    item_id = sim.item_ids[0]
    with job_span("fan-out"), httpx.Client() as client:
        with item_span(item_id):
            client.get(f"{sim.url}/Items/{item_id}/Images/Primary")  # on the item's own thread
            with ThreadPoolExecutor(2, thread_name_prefix="fetcher") as pool:
                context = contextvars.copy_context()
                missing = "0" * 32  # no such item: a 404, so the correlation has a failure to place
                pool.submit(context.run, client.head, f"{sim.url}/Items/{missing}/Images/Primary").result()
    path = debug_pipeline.job_file("fan-out")
    assert path is not None
    data = jobfile.load(path)
    threads = {r["method"]: r.get("thread") for r in data["requests"]}
    assert threads["GET"] is None and threads["HEAD"].startswith("fetcher")
    assert data["items"][0]["thread"] == "MainThread"
    # The correlation reads each attempt's own thread where it has one, else its item's.
    found = correlate(data["requests"], data["items"])
    thread = next(d for d in found.dimensions if d.name == "thread")
    assert {(v.value, v.failed, v.succeeded) for v in thread.values} == {("MainThread", 0, 1), (threads["HEAD"], 1, 0)}
