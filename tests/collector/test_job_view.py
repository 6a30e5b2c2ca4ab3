"""What the rules read from a job, read by column (``diagnosis.view.JobView``): the same answers as
record by record, from the spool's columns and from plain dicts alike."""

from __future__ import annotations

from batch_debug.collector.diagnosis.view import JobView
from batch_debug.collector.item_columns import ItemColumns
from batch_debug.collector.request_columns import RequestColumns
from batch_debug.collector.spool import slim_row

REQUESTS = [  # in start order
    {"item_id": "a", "status_code": 503, "server": "nginx/1.25.3", "content_type": "text/html",
     "error_body": "<html><title>503</title></html>", "start_offset_ms": 1.0},
    {"item_id": "b", "status_code": 200, "server": "Kestrel", "start_offset_ms": 2.0},
    {"item_id": "a", "status_code": 500, "server": "Kestrel", "content_type": "application/json",
     "error_body": '{"detail":"boom"}', "start_offset_ms": 3.0},
    {"item_id": None, "status_code": None, "error_type": "ConnectError", "url": "http://h/x", "start_offset_ms": 4.0},
    {"item_id": "b", "status_code": 404, "server": "Kestrel", "start_offset_ms": 5.0},
    {"item_id": "c", "status_code": 200, "server": "Kestrel", "start_offset_ms": 6.0},
]
ITEMS = [{"item_id": "a", "outcome": "failed", "error": "503", "duration_ms": 1.0, "started_ns": 1},
         {"item_id": "b", "outcome": "succeeded", "error": None, "duration_ms": 1.0, "started_ns": 2},
         {"item_id": "c", "outcome": "failed", "error": "disk full", "duration_ms": 1.0, "started_ns": 3}]


def views() -> list[JobView]:
    table = RequestColumns()
    table.extend(slim_row(dict(r, attempt=1, method="GET", duration_ms=0.5)) for r in REQUESTS)
    records = table.view()
    plain = [dict(r, attempt=1, method="GET", duration_ms=0.5) for r in REQUESTS]
    return [JobView(records, ItemColumns.of(ITEMS, table.item_ids).head(records, 0)), JobView(plain, ITEMS)]


def test_each_items_last_attempt_and_its_attempts_in_order() -> None:
    for view in views():
        assert view.last_attempt == {"a": 2, "b": 4, "c": 5}
        assert [(r["item_id"], r["status_code"]) for r in view.attempts_of(["b", "a", "b", "nope"])] == [
            ("b", 200), ("b", 404), ("a", 503), ("a", 500)]
        # The same objects each time (the rules tell a window's attempts apart by identity).
        assert view.attempts_of(["a"])[0] is view.attempts_of(["a"])[0] is view.requests[0]


def test_who_answered_read_by_column_is_who_answered_each() -> None:
    for view in views():
        assert view.answered_by_each(view.requests) == [view.who_answered(r) for r in view.requests] == [
            "proxy", "jellyfin", "jellyfin", "unknown", "jellyfin", "jellyfin"]


def test_failed_items_and_outcomes_from_the_heads_items() -> None:
    for view in views():
        assert [i["item_id"] for i in view.failed_items] == ["a", "c"]
        assert view.outcome == {"a": "failed", "b": "succeeded", "c": "failed"}
        assert view.item_counts["succeeded"] == 1 and view.item_counts["failed"] == 2
