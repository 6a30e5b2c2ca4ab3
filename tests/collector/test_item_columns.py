"""A job's item records, kept by column while it runs, come back as the head's items: in start order,
with their offsets and finals, equal to the dicts they were, made a chunk at a time."""

from __future__ import annotations

import json
import threading

from gc_reach import tracked_reachable
from hypothesis import given, settings, strategies as st

from batch_debug.collector import document
from batch_debug.collector.attempts import by_start
from batch_debug.collector.item_columns import ItemColumns
from batch_debug.collector.item_records import ItemRecords, item_row
from batch_debug.collector.jsontext import compact_bytes, compact_parts
from batch_debug.collector.request_columns import RequestColumns
from batch_debug.collector.spool import slim_row

ORDER = ("item_id", "outcome", "error", "duration_ms", "started_ns", "thread", "attributes")
IDS = ["a", "b", "c", "d", "e"]
# Built as records.item_record builds them: its keys in its order, the last two only when the span had them.
item = st.fixed_dictionaries(
    {"item_id": st.sampled_from(IDS), "outcome": st.sampled_from(["succeeded", "failed"]),
     "error": st.one_of(st.none(), st.text(max_size=20)),
     "duration_ms": st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False), st.integers(0, 9)),
     "started_ns": st.integers(0, 1 << 62)},
    optional={"thread": st.text(max_size=6),
              "attributes": st.dictionaries(st.text(max_size=4), st.one_of(st.text(max_size=4), st.booleans(),
                                                                          st.integers(), st.none()), max_size=3)},
).map(lambda record: {key: record[key] for key in ORDER if key in record})
request = st.fixed_dictionaries({"item_id": st.one_of(st.none(), st.sampled_from(IDS)),
                                 "status_code": st.one_of(st.none(), st.sampled_from([200, 404, 503])),
                                 "start_offset_ms": st.integers(0, 50).map(float)})


def expected_items(items, requests, start_ns: int) -> list[dict]:
    """The head's items as they were made from the item dicts (the reference): sorted by start, then given
    their offset and finals (``document.item_finals``)."""
    finals = document.item_finals(requests)
    out = sorted((dict(i) for i in items), key=lambda i: i.get("started_ns", 0))
    for one in out:
        one["start_offset_ms"] = round((one.pop("started_ns", start_ns) - start_ns) / 1e6, 3)
        final = finals.get(one.get("item_id"))
        one["attempts"] = n = final["attempts"] if final else 0
        one["final_status"] = final["final_status"] if n else None
    return out


def spooled(requests) -> RequestColumns:
    table = RequestColumns()
    table.extend(slim_row(dict(r, attempt=1, method="GET", duration_ms=1.0)) for r in requests)
    return table


@settings(max_examples=120, deadline=None, derandomize=True)
@given(st.lists(item, max_size=12), st.lists(request, max_size=12), st.integers(0, 1 << 61))
def test_head_items_equal_the_records_sorted_with_offsets_and_finals(records, requests, start_ns) -> None:
    table = spooled(requests)
    items = ItemColumns(table.item_ids)
    items.extend(map(item_row, records[:5]))
    items.extend(map(item_row, records[5:]))  # in batches, as the writer adds them
    ordered = by_start(table.view())
    head = items.head(ordered, start_ns)
    want = expected_items(records, [dict(r, attempt=1, method="GET", duration_ms=1.0) for r in requests], start_ns)
    assert [list(i.items()) for i in head] == [list(i.items()) for i in want]  # keys in the same order too
    assert len(head) == len(want)
    assert [list(head[n].items()) for n in range(len(head))] == [list(i.items()) for i in want]
    assert head[1:3] == want[1:3]
    picked = list(range(len(want)))[::-2]
    assert head.at(picked) == [want[i] for i in picked]
    for key in ("item_id", "outcome", "error", "thread", "attributes", "attempts", "start_offset_ms"):
        assert list(head.column_of(key)) == [i.get(key) for i in want], key
    assert [record for part in head.chunks(3) for record in part] == want


def test_items_of_plain_dicts_missing_keys_come_back_without_them() -> None:
    records = [{"item_id": "x", "outcome": "failed"}, {"outcome": "succeeded", "started_ns": 5}]
    head = ItemColumns.of(records).head([{"item_id": "x", "status_code": 404}], 0)
    assert list(head) == [{"item_id": "x", "outcome": "failed", "start_offset_ms": 0.0, "attempts": 1,
                           "final_status": 404},
                          {"outcome": "succeeded", "start_offset_ms": 0.0, "attempts": 0, "final_status": None}]


def test_an_item_id_is_kept_once_for_the_requests_and_the_items() -> None:
    table = spooled([{"item_id": f"item-{n // 3}", "status_code": 200, "start_offset_ms": float(n)}
                     for n in range(3000)])
    items = ItemColumns(table.item_ids)
    items.extend(item_row({"item_id": f"item-{n}", "outcome": "succeeded", "error": None, "duration_ms": 1.0,
                           "started_ns": n}) for n in range(1001))
    assert len(table.item_ids) == 1001  # 1,000 ids the requests named, one item that made no request
    assert items.columns["item_id"].codes.typecode == "H"  # widened past 256 ids, by either column
    head = items.head(by_start(table.view()), 0)
    assert [(i["attempts"], i["final_status"]) for i in head][-2:] == [(3, 200), (0, None)]


def test_items_are_redacted_and_the_head_json_is_the_same_every_way() -> None:
    key = "0123456789abcdef0123456789abcdef"
    records = [{"item_id": f"i{n}", "outcome": "failed", "error": f"GET /Items?ApiKey={key} failed {n}",
                "duration_ms": 1.5, "started_ns": 10_000 - n} for n in range(10)]
    head_items = ItemColumns.of(records).head([], 0, secrets=(key,))
    assert key not in head_items[0]["error"]  # redacted however read
    head = {"job_id": "j", "items": head_items}
    text = b"".join(compact_parts(head, "items", chunk=4))
    assert key.encode() not in text
    assert json.loads(text)["items"][0]["error"].startswith("GET /Items?ApiKey=")
    assert json.loads(text)["items"][0]["item_id"] == "i9"  # in start order
    plain = [dict(r, error="x") for r in records]
    whole = {"job_id": "j", "items": ItemColumns.of(plain).head([], 0)}
    listed = {"job_id": "j", "items": list(ItemColumns.of(plain).head([], 0))}
    assert b"".join(compact_parts(whole, "items", chunk=4)) == compact_bytes(listed)


def test_a_long_jobs_items_leave_nothing_for_the_garbage_collector_to_track() -> None:
    items = ItemColumns()
    items.extend(item_row({"item_id": f"item-{n}", "outcome": "succeeded", "error": None, "duration_ms": n / 3,
                           "started_ns": 1_700_000_000_000_000_000 + n, "thread": "MainThread"})
                 for n in range(20_000))
    assert tracked_reachable(items) < 100  # the columns themselves: a dict or tuple an item would be 20,000
    assert items.head([], 1_700_000_000_000_000_000)[-1]["start_offset_ms"] == 0.02


def test_items_ending_on_many_threads_are_all_drained() -> None:
    kept = ItemRecords()
    drained = []

    def add(thread: int) -> None:
        for n in range(2_000):
            kept.append({"item_id": f"{thread}-{n}", "outcome": "failed", "error": "x", "duration_ms": 1.0,
                         "started_ns": n})
            if n % 500 == 0:
                drained.extend(kept.drain())

    threads = [threading.Thread(target=add, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drained.extend(kept.drain())
    assert len({row[0] for row in drained}) == 16_000 and len(kept) == 0
