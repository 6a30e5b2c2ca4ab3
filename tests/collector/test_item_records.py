"""Item records kept as tuples while a job runs come back as the dicts they were, in order."""

from __future__ import annotations

import threading

from gc_reach import tracked_reachable
from hypothesis import given, settings, strategies as st

from batch_debug.collector.item_records import ItemRecords

ORDER = ("item_id", "outcome", "error", "duration_ms", "started_ns", "thread", "attributes")
# Built as records.item_record builds them: its keys in its order, the last two only when the span had them.
item = st.fixed_dictionaries(
    {"item_id": st.text(max_size=8), "outcome": st.sampled_from(["succeeded", "failed"]),
     "error": st.one_of(st.none(), st.text(max_size=20)),
     "duration_ms": st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),
     "started_ns": st.integers(0, 1 << 62)},
    optional={"thread": st.text(max_size=6),
              "attributes": st.dictionaries(st.text(max_size=4), st.one_of(st.text(max_size=4), st.booleans(),
                                                                          st.integers(), st.none()), max_size=3)},
).map(lambda record: {key: record[key] for key in ORDER if key in record})


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(item, max_size=20))
def test_items_come_back_equal_and_with_their_keys_in_order(records) -> None:
    kept = ItemRecords()
    for record in records:
        kept.append(record)
    assert len(kept) == len(records)
    assert [list(r.items()) for r in kept] == [list(r.items()) for r in records]
    taken = kept.take()
    assert [list(r.items()) for r in taken] == [list(r.items()) for r in records]
    assert len(kept) == 0 and kept.take() == []


def test_a_long_jobs_items_leave_nothing_for_the_garbage_collector_to_track() -> None:
    kept = ItemRecords()
    records = [{"item_id": f"item-{n}", "outcome": "succeeded", "error": None, "duration_ms": n / 3,
                "started_ns": 1_700_000_000_000_000_000 + n, "thread": "MainThread"} for n in range(20_000)]
    for record in records:
        kept.append(record)
    assert tracked_reachable(kept) < 20  # a dict an item would be 20,000
    assert kept.take()[-1] == records[-1]


def test_items_ending_on_many_threads_are_all_kept() -> None:
    kept = ItemRecords()

    def add(thread: int) -> None:
        for n in range(2_000):
            kept.append({"item_id": f"{thread}-{n}", "outcome": "failed", "error": "x", "duration_ms": 1.0,
                         "started_ns": n})

    threads = [threading.Thread(target=add, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r["item_id"] for r in kept.take()}) == 16_000
