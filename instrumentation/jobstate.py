"""What the instrumentation knows about the job and item running in the current context.

``current_job`` and ``current_item`` are ``ContextVar``s set by ``job_span``
and ``item_span``: asyncio tasks inherit them, threads get them through
``contextvars.copy_context().run``. The transport gate reads ``current_job``
once per request; everything else here runs per job or per item.

A :class:`Capture` (the Custom ID Test) asks every job started in its
context to hand it the job's finished spans as well, whether debug is on
(the job is recorded as usual) or off (the job is recorded for the capture
only: spans are built but go to no processor).

:data:`OUTSIDE` counts HTTP requests made while debug is on but outside any
job (a thread started without ``copy_context`` runs outside its job): a job
notes how many happened during its life, so its file can say why it saw
fewer requests than ran.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span, SpanContext

from ..collector.secrets import SecretBook, current_book, fingerprint


class Counter:
    """A thread-safe counter (``value`` is read without the lock)."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


#: Requests made with debug on outside any job, in this process.
OUTSIDE = Counter()


class Capture:
    """Finished spans of the jobs started inside :func:`capturing` (see the module doc)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.lock = threading.Lock()

    def add(self, span: ReadableSpan) -> None:
        with self.lock:
            self.spans.append(span)


current_capture: ContextVar[Capture | None] = ContextVar("batch_debug_capture", default=None)


@contextmanager
def capturing() -> Iterator[Capture]:
    """Collect the spans of every job started in this block, debug on or off."""
    capture = Capture()
    token = current_capture.set(capture)
    try:
        yield capture
    finally:
        current_capture.reset(token)


@dataclass(eq=False)
class JobState:
    """One job in progress: how its spans are built and where they go."""

    job_id: str
    span: Span
    tracer: trace.Tracer
    start_ns: int
    lean: Any  # the LeanSpans that builds request and item spans
    #: True when the job's spans go to the pipeline's processors (debug on when it started).
    recorded: bool = True
    capture: Capture | None = None
    secrets: SecretBook = field(default_factory=current_book)
    sessions_created: int = 0
    items_started: int = 0
    items_failed: int = 0
    outside_at_start: int = 0
    probe: Any = None  # a ServerProbe once the first request named the server
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Attempts whose response body is still open (``exchange.Attempt``): ended when the job ends.
    open: dict[Any, bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _fingerprints: dict[str, str] = field(default_factory=dict)

    def deliver(self, span: ReadableSpan) -> None:
        """A finished request or item span of this job: to the processors and/or the capture."""
        if self.recorded:
            self.lean.deliver(span)
        if self.capture is not None:
            self.capture.add(span)

    def fingerprint(self, value: str) -> str:
        found = self._fingerprints.get(value)
        if found is None:
            found = self._fingerprints[value] = fingerprint(value)
        return found

    def item_started(self) -> None:
        with self.lock:
            self.items_started += 1

    def item_failed(self) -> None:
        with self.lock:
            self.items_failed += 1

    def finish_open_attempts(self) -> None:
        """End every attempt whose body the job never closed (it ends with the job)."""
        for attempt in list(self.open):
            attempt.finish()


@dataclass
class ItemState:
    item_id: str
    context: SpanContext
    thread: str = ""  # the thread or asyncio task that entered the item (``runner_name``)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    outcome: str | None = None
    error: str | None = None


def runner_name() -> str:
    """The asyncio task running now, else the thread: who ran an item or an attempt (the correlation's
    ``thread`` dimension)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running event loop: a thread
        task = None
    return task.get_name() if task is not None else threading.current_thread().name


current_job: ContextVar[JobState | None] = ContextVar("batch_debug_job", default=None)
current_item: ContextVar[ItemState | None] = ContextVar("batch_debug_item", default=None)
