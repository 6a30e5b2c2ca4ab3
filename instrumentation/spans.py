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
``ContextVar``s: asyncio tasks inherit them; for threads, submit work with
``contextvars.copy_context().run``. When debug is off the spans are
non-recording and these managers do almost nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context, trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode

from ..collector import attributes as A
from ..collector.jobfile import validate_job_id
from ..collector.redact import redact_text
from .lean import exception_event

TRACER_NAME = A.SCOPE_NAME


@dataclass
class JobState:
    """What the instrumentation knows and learns during one recorded job."""

    job_id: str
    span: Span
    tracer: trace.Tracer
    start_ns: int
    lean: Any = None  # the pipeline's LeanSpans: builds request and item spans
    sink: Callable[[dict[str, Any]], None] | None = None  # the processor's OpenJob.add_request
    sessions_created: int = 0
    probe: Any = None  # a ServerProbe once the first request named the server
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_request(self, record: dict[str, Any]) -> None:
        """Hand a finished attempt's record to the job's processor."""
        if self.sink is not None:
            self.sink(record)


@dataclass
class ItemState:
    item_id: str
    context: SpanContext
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    outcome: str | None = None
    error: str | None = None


current_job: ContextVar[JobState | None] = ContextVar("batch_debug_job", default=None)
current_item: ContextVar[ItemState | None] = ContextVar("batch_debug_item", default=None)


def _tracer() -> trace.Tracer:
    from .pipeline import current_tracer  # late: the pipeline imports this module

    return current_tracer()


def _job_state(job_id: str, span: Span, tracer: trace.Tracer) -> JobState:
    from .pipeline import current_pipeline

    start = getattr(span, "start_time", None) or time.time_ns()
    state = JobState(job_id, span, tracer, start)
    pipeline = current_pipeline()
    if pipeline is not None:
        state.lean = pipeline.lean
        if pipeline.processor is not None:
            # In zero-code mode there is no processor: records reach the file on their spans.
            job = pipeline.processor.job_for(span.get_span_context().trace_id)
            state.sink = job.add_request if job is not None else None
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


def _record_error(span: Span, exc: BaseException) -> str:
    message = redact_text(f"{type(exc).__name__}: {exc}")
    # Not span.record_exception: its message and stack could carry a key.
    span.add_event("exception", {"exception.type": type(exc).__qualname__, "exception.message": message})
    span.set_status(Status(StatusCode.ERROR, message[:500]))
    return message


class job_span(_SpanScope):  # noqa: N801 - reads as a function at the call site
    """Mark a batch job; its file is written when the block ends."""

    def __init__(self, job_id: str, **attrs: Any) -> None:
        self.job_id = validate_job_id(job_id)
        self.attrs = attrs
        self.state: JobState | None = None
        self._job_token: Token[JobState | None] | None = None

    @property
    def recording(self) -> bool:
        return self.state is not None

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
        if span.is_recording():
            self.state = _job_state(self.job_id, span, tracer)
            self._job_token = current_job.set(self.state)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        span = self._span
        try:
            if self.state is not None:
                if exc is not None:
                    _record_error(span, exc)
                span.set_attribute(A.JOB_SESSIONS_CREATED, self.state.sessions_created)
                probe = self.state.probe
                if probe is not None:
                    probe.record_on(span)
        finally:
            if self._job_token is not None:
                current_job.reset(self._job_token)
                self._job_token = None
            self._detach()
            span.end()


class item_span:  # noqa: N801
    """Mark one poster (item) of the job; failed if the block raises or ``fail`` is called.

    Outside a recorded job this does nothing. Inside one, the item's span is
    built when the block ends (see ``lean``); its context is current inside
    the block, so the item's requests are its children.
    """

    def __init__(self, item_id: str) -> None:
        self.item_id = str(item_id)
        self.state: ItemState | None = None
        self._job: JobState | None = None
        self._token: Token[ItemState | None] | None = None
        self._ctx_token: object | None = None
        self._parent: SpanContext | None = None
        self._start = 0

    def fail(self, reason: str) -> None:
        """Mark the item failed with a short, human reason."""
        if self.state is not None:
            self.state.outcome, self.state.error = "failed", redact_text(reason)

    def succeed(self) -> None:
        if self.state is not None:
            self.state.outcome, self.state.error = "succeeded", None

    def __enter__(self) -> item_span:
        job = current_job.get()
        if job is None or job.lean is None:
            return self
        self._job = job
        self._parent = trace.get_current_span().get_span_context()
        context = job.lean.context(self._parent)
        self._start = time.time_ns()
        self._ctx_token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(context)))
        self.state = ItemState(self.item_id, context)
        self._token = current_item.set(self.state)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        state, job = self.state, self._job
        if state is None or job is None:
            return
        try:
            end = time.time_ns()
            events = []
            if exc is not None:
                event, message = exception_event(exc, end)
                events.append(event)
                state.outcome, state.error = "failed", message
            outcome = state.outcome or "succeeded"
            attrs: dict[str, Any] = {A.ITEM_ID: self.item_id, A.ITEM_OUTCOME: outcome}
            if state.error:
                attrs[A.ITEM_ERROR] = state.error
            status = Status(StatusCode.ERROR, state.error or "failed") if outcome == "failed" else Status()
            job.lean.emit("poster item", state.context, self._parent, attrs, kind=SpanKind.INTERNAL,
                          start_ns=self._start, end_ns=end, status=status, events=events)
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
