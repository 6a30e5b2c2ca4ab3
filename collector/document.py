"""Build the job file's content from a job's spans.

``build_document`` is called on the writer thread, never on the request path.
Its output has the keys DESIGN.md fixes: ``job_id``, ``complete``,
``generated_at``, ``summary``, ``environment``, ``requests``, ``items`` and
``resourceSpans`` (OTLP JSON from the OpenTelemetry encoder, loadable by any
OTLP viewer). Every string in it is passed through ``redact_tree``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from . import analysis, attributes as A, records
from .redact import redact_tree

FORMAT_VERSION = 1


def build_document(
    job_id: str,
    spans: Sequence[ReadableSpan],
    job_span: ReadableSpan,
    *,
    complete: bool,
    dropped_spans: int = 0,
    debug_enabled: bool = True,
    secrets: Sequence[str] = (),
    end_time_ns: int | None = None,
) -> dict[str, Any]:
    """The whole job file as a JSON-ready dict (``job_span`` may still be open)."""
    start_ns = job_span.start_time or 0
    end_ns = job_span.end_time or end_time_ns or start_ns
    requests, items = records.job_records(spans, start_ns)
    info, info_error = records.server_info(job_span)
    attrs = job_span.attributes or {}
    sessions = attrs.get(A.JOB_SESSIONS_CREATED)
    env = analysis.environment(info, requests, server_info_error=info_error)
    summary = analysis.summarize(
        job_id,
        requests,
        items,
        duration_seconds=max(0.0, (end_ns - start_ns) / 1e9),
        debug_enabled=debug_enabled,
        env=env,
        sessions_created=int(sessions) if sessions is not None else None,
        dropped_spans=dropped_spans,
    )
    all_spans = [*spans, job_span] if job_span.end_time else list(spans)
    otlp = encode_spans(all_spans).to_dict()
    document = {
        "format_version": FORMAT_VERSION,
        "job_id": job_id,
        "complete": complete,
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "started_at": datetime.fromtimestamp(start_ns / 1e9, timezone.utc).isoformat(),
        "trace_id": f"{job_span.context.trace_id:032x}",
        "dropped_spans": dropped_spans,
        "summary": summary,
        "environment": env,
        "items": items,
        "requests": requests,
        "resourceSpans": otlp.get("resourceSpans", []),
    }
    return redact_tree(document, secrets)  # type: ignore[return-value]


def dumps(document: dict[str, Any]) -> str:
    """The document as compact, stable JSON text."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
