"""Job and item spans for the batch worker.

Usage::

    from batch_debug.instrumentation import setup, job_span, item_span

    setup()
    with job_span("job-42", items_total=len(ids)):
        for item_id in ids:
            with item_span(item_id) as item:
                response = client.get(...)
                if response.status_code != 200:
                    item.fail(f"HTTP {response.status_code}")

Both work as ``with`` and ``async with``. A job span starts a new trace (one
job = one trace, linked to whatever span was current), so the processor can
group the job's spans by trace id. The current job and item live in
``ContextVar``s (``jobstate``): asyncio tasks inherit them; for threads,
submit work with ``contextvars.copy_context().run``. When debug is off the
spans are non-recording and these managers do almost nothing.

The job span records the job's life: items declared (``items_total``),
started and failed, and the exception that ended it, if any (type and
redacted message), so the file never calls a crashed job clean. Its status
is ERROR when the job raised (described by the redacted exception) or when
any item failed ("3 of 10 items failed"), so trace viewers list such a job
as failed. An item span is named after its item (``poster item 0a1b...``)
and carries its id and outcome (``batch_debug.item.id``, ``.outcome``).
"""

from __future__ import annotations

import logging
import re
import time
from contextvars import Token
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context, trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode

from ..collector import attributes as A
from ..collector.jobfile import validate_job_id
from ..collector.redact import redact_text
from .jobstate import OUTSIDE, ItemState, JobState, current_capture, current_item, current_job, runner_name
from .lean import LeanSpans, exception_event

logger = logging.getLogger(__name__)
TRACER_NAME = A.SCOPE_NAME
#: Longest item id an item span's name quotes (the full id is in its ``batch_debug.item.id``).
_NAME_ID_CHARS = 64
_DETACHED = LeanSpans.detached()


def _tracer() -> trace.Tracer:
    from .pipeline import current_tracer  # late: the pipeline imports this module

    return current_tracer()


def _job_state(job_id: str, span: Span, tracer: trace.Tracer) -> JobState | None:
    """The job's state: recorded (its span is), captured only (debug off inside a capture), or None."""
    from .pipeline import current_pipeline

    capture = current_capture.get()
    recorded = span.is_recording()
    if not recorded and capture is None:
        return None
    pipeline = current_pipeline()
    lean = pipeline.lean if recorded and pipeline is not None else _DETACHED
    start = getattr(span, "start_time", None) or time.time_ns()
    state = JobState(job_id, span, tracer, start, lean, recorded=recorded, capture=capture,
                     outside_at_start=OUTSIDE.value)
    if recorded and pipeline is not None and pipeline.processor is not None:
        job = pipeline.processor.job_for(span.get_span_context().trace_id)
        if job is not None:
            job.secret_books.append(state.secrets)  # learned keys are scrubbed from its file too
            job.items_started = lambda: state.items_started  # for a file written mid-job (SIGTERM)
    return state


class _SpanScope:
    """Shared enter/exit logic of job and item scopes (sync and async)."""

    _span: Span
    _ctx_token: object | None = None

    def _attach(self, span: Span) -> None:
        self._span = span
        self._ctx_token = otel_context.attach(trace.set_span_in_context(span))

    def _detach(self) -> None:
        if self._ctx_token is not None:
            otel_context.detach(self._ctx_token)  # type: ignore[arg-type]
            self._ctx_token = None

    async def __aenter__(self) -> Any:
        return self.__enter__()  # type: ignore[attr-defined]

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)  # type: ignore[attr-defined]


class job_span(_SpanScope):  # noqa: N801 - reads as a function at the call site
    """Mark a batch job; its file is written when the block ends.

    ``items_total`` (a keyword) declares how many items the job means to
    process, so a job that stops early can say how many never started.
    """

    def __init__(self, job_id: str, **attrs: Any) -> None:
        self.job_id = validate_job_id(job_id)
        self.attrs = attrs
        self.state: JobState | None = None
        self._job_token: Token[JobState | None] | None = None

    @property
    def recording(self) -> bool:
        return self.state is not None and self.state.recorded

    def __enter__(self) -> job_span:
        parent = trace.get_current_span().get_span_context()
        links = [Link(parent)] if parent.is_valid else None
        attributes: dict[str, Any] = {A.JOB_ID: self.job_id}
        for key, value in self.attrs.items():
            if value is not None:
                attributes[f"batch_debug.job.{key}"] = value
        # An empty context makes this span a root: one job = one trace.
        tracer = _tracer()
        span = tracer.start_span(
            "batch job", context=otel_context.Context(), kind=SpanKind.INTERNAL,
            attributes=attributes, links=links,
        )
        self._attach(span)
        self.state = _job_state(self.job_id, span, tracer)
        if self.state is not None:
            self._job_token = current_job.set(self.state)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        span, state = self._span, self.state
        try:
            if state is not None:
                state.finish_open_attempts()
            if state is not None and state.recorded:
                if exc is not None:
                    message = redact_text(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                                          state.secrets.values())
                    # Not span.record_exception: its message and stack could carry a key.
                    span.add_event("exception", {"exception.type": type(exc).__qualname__,
                                                 "exception.message": message})
                    span.set_status(Status(StatusCode.ERROR, message[:500]))
                    span.set_attribute(A.JOB_ERROR_TYPE, type(exc).__name__)
                    span.set_attribute(A.JOB_ERROR_MESSAGE, message[:2000])
                span.set_attribute(A.JOB_SESSIONS_CREATED, state.sessions_created)
                span.set_attribute(A.JOB_ITEMS_STARTED, state.items_started)
                failed = state.items_failed
                if failed:
                    span.set_attribute(A.JOB_ITEMS_FAILED, failed)
                    if exc is None:  # a job that raised keeps its exception as the description
                        span.set_status(Status(StatusCode.ERROR,
                                               f"{failed} of {state.items_started} items failed"))
                outside = OUTSIDE.value - state.outside_at_start
                if outside:
                    span.set_attribute(A.JOB_OUTSIDE_REQUESTS, outside)
                probe = state.probe
                if probe is not None:
                    probe.record_on(span)
        finally:
            if self._job_token is not None:
                current_job.reset(self._job_token)
                self._job_token = None
            self._detach()
            span.end()


_ATTR_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ATTR_CHARS = 256


def _bounded(item_id: str) -> str:
    return item_id if len(item_id) <= _NAME_ID_CHARS else item_id[: _NAME_ID_CHARS - 3] + "..."


class item_span:  # noqa: N801
    """Mark one poster (item) of the job; failed if the block raises or ``fail`` is called.

    Outside a recorded job this does nothing. Inside one, the item's span is
    built when the block ends (see ``lean``); its context is current inside
    the block, so the item's requests are its children.
    """

    def __init__(self, item_id: str) -> None:
        self.item_id = str(item_id)
        self.attributes: dict[str, str | bool | int | float] = {}
        self.state: ItemState | None = None
        self._job: JobState | None = None
        self._token: Token[ItemState | None] | None = None
        self._ctx_token: object | None = None
        self._parent: SpanContext | None = None
        self._start = 0

    def fail(self, reason: str) -> None:
        """Mark the item failed with a short, human reason (credentials in it are redacted)."""
        if self.state is not None and self._job is not None:
            self.state.outcome, self.state.error = "failed", redact_text(reason, self._job.secrets.values())

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        """Describe the item (``item.set_attribute("library", "anime")``): the job file's item record
        carries it under ``attributes`` and the correlation tests it as a dimension (``item.<key>``).

        ``key``: 1 to 64 of ``A-Z a-z 0-9 _ . -``; ``value``: str (at most 256 characters kept;
        credentials redacted), bool, int or float. Anything else is dropped with a warning in the
        log (as OpenTelemetry's ``Span.set_attribute`` does): tracing never breaks the job.
        """
        if self._job is None:
            return
        if not isinstance(key, str) or not _ATTR_KEY.fullmatch(key):
            logger.warning("batch-debug: item attribute dropped: keys are 1 to 64 of A-Z a-z 0-9 _ . -, "
                           "not %.80r", key)
            return
        if not isinstance(value, (str, bool, int, float)):
            logger.warning("batch-debug: item attribute %r dropped: a str, bool, int or float is needed, not %s",
                           key, type(value).__name__)
            return
        if isinstance(value, str):
            value = redact_text(value[:_ATTR_CHARS], self._job.secrets.values())
        self.attributes[key] = value

    def __enter__(self) -> item_span:
        job = current_job.get()
        if job is None:
            return self
        self._job = job
        self._parent = trace.get_current_span().get_span_context()
        context = job.lean.context(self._parent)
        self._start = time.time_ns()
        self._ctx_token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(context)))
        self.state = ItemState(self.item_id, context, runner_name())
        self._token = current_item.set(self.state)
        job.item_started()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        state, job = self.state, self._job
        if state is None or job is None or self._parent is None:
            return
        try:
            end = time.time_ns()
            events = []
            if exc is not None:
                event, message = exception_event(exc, end, job.secrets.values())
                events.append(event)
                state.outcome, state.error = "failed", message
            outcome = state.outcome or "succeeded"
            attrs: dict[str, Any] = {A.ITEM_ID: self.item_id, A.ITEM_OUTCOME: outcome,
                                     A.THREAD_NAME: state.thread}
            for key, value in self.attributes.items():
                attrs[A.ITEM_ATTR_PREFIX + key] = value
            if state.error:
                attrs[A.ITEM_ERROR] = state.error
            status = Status()
            if outcome == "failed":
                status = Status(StatusCode.ERROR, state.error or "failed")
                job.item_failed()
            name = f"poster item {_bounded(self.item_id)}"
            job.deliver(job.lean.build(name, state.context, self._parent, attrs, kind=SpanKind.INTERNAL,
                                       start_ns=self._start, end_ns=end, status=status, events=events))
        finally:
            if self._token is not None:
                current_item.reset(self._token)
                self._token = None
            if self._ctx_token is not None:
                otel_context.detach(self._ctx_token)  # type: ignore[arg-type]
                self._ctx_token = None

    async def __aenter__(self) -> item_span:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)
