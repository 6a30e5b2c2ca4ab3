"""What a job span says about its job: its life (declared and started items, the error that ended it),
the counts it carries, and the server's public info the job recorded on it.

Pure readers of one finished (or, for a process stopping mid-job, still open)
job span; ``document.build_head`` and the processor use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from . import attributes as A


def job_life(job_span: ReadableSpan | None, *, ended: bool) -> dict[str, Any]:
    """The job's life from its job span: items declared and started, the error that ended it.

    ``ended``: the job span ended (False: the file is written while the job
    still runs, because the process is stopping). ``complete`` is True only
    when the job ended and did not raise.
    """
    attrs = (job_span.attributes if job_span is not None else None) or {}
    error: dict[str, str | None] | None = None
    if attrs.get(A.JOB_ERROR_TYPE):
        error = {"type": str(attrs[A.JOB_ERROR_TYPE]), "message": str(attrs.get(A.JOB_ERROR_MESSAGE) or "")}
    elif (job_span is not None and job_span.status.status_code == StatusCode.ERROR
          and not count_attribute(attrs, A.JOB_ITEMS_FAILED)):
        # ERROR with failed items counted is ours for "3 of 10 items failed": the job itself ended well.
        error = {"type": None, "message": job_span.status.description or "the job span ended with an error"}

    def count(key: str) -> int | None:
        return count_attribute(attrs, key)

    return {
        "ended": ended,
        "complete": ended and error is None,
        "items_declared": count(A.JOB_ITEMS_TOTAL),
        "items_started": count(A.JOB_ITEMS_STARTED),
        "error": error,
        "requests_outside_jobs": count(A.JOB_OUTSIDE_REQUESTS) or 0,
    }


def count_attribute(attrs: Mapping[str, Any], key: str) -> int | None:
    """A span attribute that counts something: a whole number >= 0, or None (absent, a bool, negative, text)."""
    value = attrs.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def server_info(job_span: ReadableSpan | None) -> tuple[dict[str, Any] | None, str | None]:
    """(``/System/Info/Public`` fields recorded on the job span, probe error)."""
    if job_span is None:
        return None, None
    attrs = job_span.attributes or {}
    prefix = A.SERVER_INFO_PREFIX
    info: dict[str, Any] = {k[len(prefix):]: v for k, v in attrs.items() if k.startswith(prefix)}
    error = attrs.get(A.SERVER_INFO_ERROR)
    return (info or None), (None if error is None else str(error))
