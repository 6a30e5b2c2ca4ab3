"""The job file's head: everything but the streamed ``requests`` and ``resourceSpans``.

``build_head`` runs on the writer thread when a job ends. It takes the slim
request records kept in memory by the spool, the item records and the job
span, and returns ``job_id``, ``complete``, ``generated_at``, ``summary``,
``environment``, ``items`` and the rest of the keys DESIGN.md fixes; the
spool appends ``requests`` and ``resourceSpans`` (OTLP JSON) after them.
Every string in the head passes through ``redact_tree``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from . import analysis, attributes as A, jobspan
from .attempts import by_start, column, start_order
from .item_columns import ItemColumns
from .redact import redact_tree

#: 2: whole-exchange request records (body phase), the job's life (``job_error``,
#: items started / not started), ``summary.findings``. 3: a request span in
#: ``resourceSpans`` no longer carries its record (``batch_debug.record``): its
#: ``requests`` entry is it (``span_records``). 4: nor the semantic-convention attributes
#: that entry gives back (``entry_attributes.GIVEN_BACK``). Readers take 1 to 4.
FORMAT_VERSION = 4


def item_finals(requests: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    """Per item id: ``attempts`` (its requests) and ``final_status`` (the status its last request got,
    None when that one got no answer). The last request is the latest to start (of two that started
    together, the one recorded later: the spool keeps records in the order they ended).

    The rule the head's items follow: ``item_columns.HeadItems`` computes the same by item code from
    the spool's columns (the tests hold the two equal), so a comparison of two jobs never reads the
    requests (``collector.compare``).
    """
    ids, statuses = column(requests, "item_id"), column(requests, "status_code")
    attempts = Counter(ids)
    attempts.pop(None, None)
    order = start_order(requests)
    if order is not None:
        ids, statuses = [ids[i] for i in order], [statuses[i] for i in order]
    final = dict(zip(ids, statuses))  # read in start order, the dict keeps each item's last status
    return {item_id: {"attempts": n, "final_status": final[item_id]} for item_id, n in attempts.items()}


def build_head(
    job_id: str,
    job_span: ReadableSpan,
    requests: Sequence[Any],
    items: ItemColumns | Sequence[Mapping[str, Any]],
    *,
    ended: bool,
    dropped_spans: int = 0,
    dropped_records: int = 0,
    debug_enabled: bool = True,
    secrets: Sequence[str] = (),
    end_time_ns: int | None = None,
) -> dict[str, Any]:
    """The head of the job file as a JSON-ready dict.

    ``items``: the item records (as ``records.item_record`` makes them, or
    the spool's :class:`ItemColumns`); the head's ``items`` is a
    ``item_columns.HeadItems`` over them, each given its start offset and
    finals and redacted when it is read (the spool writes them a chunk at a
    time): a million-request job has a third of a million, never all made
    at once. ``ended``: the
    job span ended; False when the process stops mid-job (``job_span`` is
    then still open). ``complete`` in the head is True only
    when the job ended without raising. ``dropped_records``: request records
    left out because they could not be read (``records.DamagedRecord``).
    """
    # In start order once, as Records: every reader after this one shares each column read.
    requests = by_start(requests)
    start_ns = job_span.start_time or 0
    end_ns = job_span.end_time or end_time_ns or start_ns
    info, info_error = jobspan.server_info(job_span)
    attrs = job_span.attributes or {}
    life = jobspan.job_life(job_span, ended=ended)
    env = analysis.environment(info, requests, server_info_error=info_error)
    if not isinstance(items, ItemColumns):
        items = ItemColumns.of(items)
    head_items = items.head(requests, start_ns, secrets)
    summary = analysis.summarize(
        job_id,
        requests,
        head_items,
        duration_seconds=max(0.0, (end_ns - start_ns) / 1e9),
        debug_enabled=debug_enabled,
        env=env,
        life=life,
        sessions_created=jobspan.count_attribute(attrs, A.JOB_SESSIONS_CREATED),
        dropped_spans=dropped_spans,
        dropped_records=dropped_records,
    )
    head = {
        "format_version": FORMAT_VERSION,
        "job_id": job_id,
        "complete": life["complete"],
        "job_error": life["error"],
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "started_at": datetime.fromtimestamp(start_ns / 1e9, timezone.utc).isoformat(),
        "trace_id": f"{job_span.context.trace_id:032x}",
        "dropped_spans": dropped_spans,
        "dropped_records": dropped_records,
        "summary": summary,
        "environment": env,
        "items": head_items,  # left as it is by redact_tree: each item is redacted as it is made
    }
    return redact_tree(head, secrets)  # type: ignore[return-value]
