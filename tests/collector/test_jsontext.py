"""The head's JSON made in parts is the JSON made at once, and the long list it takes is let go."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from batch_debug.collector.jsontext import compact_bytes, compact_parts

values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 63) - 1), st.floats(allow_nan=False),
                                st.text(max_size=5)),
                      lambda inner: st.one_of(st.lists(inner, max_size=3),
                                              st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                      max_leaves=6)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(max_size=4).filter(lambda k: k != "items"), values, max_size=4),
       st.lists(values, max_size=25), st.integers(1, 6), st.booleans())
def test_parts_join_to_the_whole_json(head, items, chunk, items_last) -> None:
    value = {**head, "items": items} if items_last else {"items": items, **head}
    whole = compact_bytes(value)
    expected = list(items)
    parts = list(compact_parts(value, "items", chunk=chunk))
    assert b"".join(parts) == whole
    assert json.loads(b"".join(parts))["items"] == json.loads(compact_bytes(expected))
    if list(value)[-1] == "items" and len(expected) > chunk:
        assert len(parts) > 2 and value["items"] == []  # written a chunk at a time, and let go
    else:
        assert parts == [whole] and value["items"] == expected  # at once, untouched


def test_a_big_jobs_file_is_the_same_whichever_way_its_head_is_made() -> None:
    items = [{"item_id": f"item-{n}", "outcome": "succeeded", "error": None, "duration_ms": n / 7}
             for n in range(10_000)]
    head = {"job_id": "j", "summary": {"total_requests": 30_000}, "items": items}
    whole = compact_bytes(head)
    assert b"".join(compact_parts(head, "items")) == whole
