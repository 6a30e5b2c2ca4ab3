"""Which items of a job to run again: the failed and the unfinished ones, by id, in the job's item order.

Usage::

    head = jobfile.load_head(path)
    failed = rerun.failed_item_ids(head)                  # len(failed) == head["summary"]["items_failed"]
    if rerun.needs_requests(head):                        # only when some items never ended
        requests = jobfile.load(path)["requests"]
    unfinished = rerun.unfinished_item_ids(head, requests)
    problems = rerun.check(head)                          # [] for a complete job in which nothing failed

Pure functions of a job document (or its head, ``jobfile.load_head``): no
I/O. The rule is the summary's (``diagnosis.view.JobView.item_counts``): the
head's ``items`` are the items that finished, each with an ``outcome``, and
every finished item whose outcome is not ``"succeeded"`` is a failure. So the
failed ids come from the head alone, one per failed item record, in the
order the items started (``document.build_head`` sorts them so).

Unfinished items (started, never ended: the process stopped mid-job) have no
item record; their ids are known only from the requests they made, which
live in the streamed part of the file. An unfinished item that had sent no
request yet cannot be named, so ``unfinished_item_ids`` may list fewer ids
than ``summary.items_unfinished`` counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Record = Mapping[str, Any]


def _items(document: Record) -> list[Record]:
    items = document.get("items")
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _summary(document: Record) -> Record:
    summary = document.get("summary")
    return summary if isinstance(summary, Mapping) else {}


def _count(summary: Record, key: str) -> int:
    value = summary.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def failed_item_ids(document: Record) -> list[str]:
    """Ids of the finished items that did not succeed, in item order (one per failed item record)."""
    return [str(i["item_id"]) for i in _items(document)
            if i.get("outcome") != "succeeded" and isinstance(i.get("item_id"), str)]


def needs_requests(document: Record) -> bool:
    """True when the summary counts unfinished items: naming them takes the file's ``requests``."""
    return _count(_summary(document), "items_unfinished") > 0


def unfinished_item_ids(document: Record, requests: Iterable[Record] = ()) -> list[str]:
    """Ids of items that made requests but never ended, in the order of their first request.

    ``requests``: the job's request records (the file's ``requests``); none
    are needed, and none are read, when the summary counts no unfinished item.
    """
    if not needs_requests(document):
        return []
    finished = {i.get("item_id") for i in _items(document)}
    seen = (r.get("item_id") for r in requests if isinstance(r, Mapping))
    return list(dict.fromkeys(i for i in seen if isinstance(i, str) and i and i not in finished))


def check(document: Record) -> list[str]:
    """Why the job needs attention, one short reason each; empty for a complete job with nothing failed.

    Reasons: the job did not end normally (``complete`` false, with its
    error when it raised), items failed, items unfinished, items declared but
    never started.
    """
    summary = _summary(document)
    reasons: list[str] = []
    if not document.get("complete", summary.get("complete", True)):
        error = document.get("job_error") or summary.get("job_error")
        detail = ""
        if isinstance(error, Mapping) and (error.get("type") or error.get("message")):
            detail = ": " + ": ".join(str(error[k]) for k in ("type", "message") if error.get(k))
        reasons.append(f"incomplete (the job did not end normally{detail})")
    for key, words in (("items_failed", "failed"), ("items_unfinished", "unfinished"),
                       ("items_not_started", "not started")):
        count = _count(summary, key)
        if count:
            reasons.append(f"{count} item{'s' if count != 1 else ''} {words}")
    return reasons
