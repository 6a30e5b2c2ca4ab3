"""requests instrumented for one tracer provider: the gate in front of the OpenTelemetry instrumentation; undone.

Usage (``clients`` does this when a pipeline is installed, swapped or reset)::

    instrument(provider, is_on=switch_is_on)   # idempotent per provider
    uninstrument()                             # requests as it was

``opentelemetry-instrumentation-requests`` replaces ``Session.send`` (which
every request goes through, the module functions ``requests.get`` & co.
included: each makes a ``Session`` for the call) with its instrumented one.
The gate then takes its place and picks one of three paths per request:

- no job in the current context and debug off: the original, uninstrumented
  ``Session.send``. Cost: one ``ContextVar.get`` and the switch's cached
  check;
- a job in the current context: ``requests_record.send_in_job``, which
  records each hop as one ``exchange.Attempt``, the same record as httpx's
  (unless OpenTelemetry's suppress-instrumentation context is on: the OTLP
  exporter's own requests, our probe; those go out unrecorded);
- debug on outside any job: the stock instrumented ``Session.send`` (its
  spans reach OTLP viewers, with ``ApiKey``/``api_key`` redacted from their
  URL by our request hook), counted in ``jobstate.OUTSIDE`` so a job can
  hint at threads started without ``copy_context``.

Besides the gate: ``Session.__init__`` counts sessions made inside a job
(``job.sessions_created``; a module function per request shows as one
session per request), and urllib3's ``HTTPConnection.connect`` and
``HTTPSConnection.connect`` stamp the connect of a job's hop
(``requests_record.stamped_connect``; called once per new connection, never
per request). In zero-code mode ``opentelemetry-instrument`` has already
instrumented requests without the gate: :func:`instrument` undoes that and
instruments again, with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import FunctionType
from typing import Any

from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span
from requests import PreparedRequest, Session
from urllib3.connection import HTTPConnection, HTTPSConnection
from wrapt import FunctionWrapper, wrap_function_wrapper

from ..collector import attributes as A
from ..collector.redact import redact_url
from .jobstate import OUTSIDE, current_job
from .requests_record import send_in_job, stamped_connect
from .upstream import instrumentation_suppressed as _suppressed, requests_uninstrumented_send

logger = logging.getLogger(__name__)

_instrumented_for: TracerProvider | None = None  # the provider requests' spans go to now
_CONNECTION_CLASSES = (HTTPConnection, HTTPSConnection)


def _count_session(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    job = current_job.get()
    if job is not None:
        with job.lock:  # a job's threads may make sessions at once (one per request)
            job.sessions_created += 1
    return wrapped(*args, **kwargs)


def _redact_stock_span(span: Span, request: PreparedRequest) -> None:
    """Request hook of the stock spans: the URL without ``ApiKey``/``api_key`` (its redaction misses them)."""
    try:
        if not span.is_recording():
            return
        attributes = getattr(span, "attributes", None) or {}
        url = redact_url(request.url or "")
        for key in (A.HTTP_URL_OLD, A.HTTP_URL_NEW):
            if key in attributes:
                span.set_attribute(key, url)
    except Exception:  # noqa: BLE001 - a hook never breaks the request
        logger.exception("batch-debug could not redact a requests span; the request goes on")


def _outside_job() -> None:
    if not _suppressed():  # the OTLP exporter and our probe suppress instrumentation
        OUTSIDE.add()


def install_gate(is_on: Callable[[], bool]) -> None:
    """Put the gate in front of the (already instrumented) ``Session.send``. Idempotent."""
    instrumented = Session.send
    if getattr(instrumented, "_batch_debug_gate", False):
        return
    original = requests_uninstrumented_send(instrumented)

    def send(self: Session, request: PreparedRequest, **kwargs: Any) -> Any:
        job = current_job.get()
        if job is not None:
            if _suppressed():
                return original(self, request, **kwargs)
            return send_in_job(original, self, request, kwargs, job)
        if is_on():
            _outside_job()
            return instrumented(self, request, **kwargs)
        return original(self, request, **kwargs)

    send._batch_debug_gate = True  # type: ignore[attr-defined]
    send.__wrapped__ = original  # type: ignore[attr-defined]
    Session.send = send  # type: ignore[method-assign]


def remove_gate() -> None:
    """Take the gate out: ``Session.send`` is the uninstrumented one again."""
    current = Session.__dict__.get("send")
    if isinstance(current, FunctionType) and getattr(current, "_batch_debug_gate", False):
        Session.send = current.__wrapped__  # type: ignore[attr-defined, method-assign]


def _stamp_connects() -> None:
    for cls in _CONNECTION_CLASSES:
        current = cls.__dict__["connect"]
        if not getattr(current, "_batch_debug_connect", False):
            cls.connect = stamped_connect(current)  # type: ignore[method-assign, assignment]


def _unstamp_connects() -> None:
    for cls in _CONNECTION_CLASSES:
        current = cls.__dict__["connect"]
        if getattr(current, "_batch_debug_connect", False):
            cls.connect = current.__wrapped__  # type: ignore[method-assign]


def instrument(provider: TracerProvider, *, is_on: Callable[[], bool]) -> None:
    """requests reports to ``provider`` behind the gate (``is_on``)."""
    global _instrumented_for
    if _instrumented_for is provider:
        return
    remove_gate()  # the gate goes back in front of the new instrumentation
    instrumentor = RequestsInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        # Instrumented by opentelemetry-instrument (without our hook), or for another provider.
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=provider, request_hook=_redact_stock_span)
    install_gate(is_on)
    _stamp_connects()
    if not isinstance(Session.__dict__["__init__"], FunctionWrapper):  # once: a second wrapper counts twice
        wrap_function_wrapper(Session, "__init__", _count_session)
    _instrumented_for = provider


def uninstrument() -> None:
    """requests without our gate, the OpenTelemetry instrumentation, connect stamps or session counting."""
    global _instrumented_for
    remove_gate()
    instrumentor = RequestsInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    _unstamp_connects()
    init = Session.__dict__["__init__"]
    if isinstance(init, FunctionWrapper):
        Session.__init__ = init.__wrapped__  # type: ignore[method-assign]
    _instrumented_for = None
