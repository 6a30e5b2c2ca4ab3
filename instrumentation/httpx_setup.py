"""httpx instrumented for one tracer provider, with our hooks, the gate and session counting; and undone.

Usage (``pipeline`` does this when a pipeline is installed, swapped or reset)::

    instrument(provider, is_on=switch_is_on, secrets=current_secrets)   # idempotent per provider
    uninstrument()                                                      # httpx as it was

The instrumentation is process-wide (it patches httpx's classes), so only
one provider at a time receives httpx's spans; instrumenting for another
provider replaces the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from wrapt import FunctionWrapper, wrap_function_wrapper

from ..collector.redact import install_log_redaction
from . import hooks
from .spans import current_job
from .transport import install_gate, remove_gate

_instrumented_for: TracerProvider | None = None  # the provider httpx's spans go to now


def _count_session(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    job = current_job.get()
    if job is not None:
        job.sessions_created += 1
    return wrapped(*args, **kwargs)


def instrument(provider: TracerProvider, *, is_on: Callable[[], bool],
               secrets: Callable[[], Iterable[str]]) -> None:
    """httpx reports to ``provider`` behind the gate (``is_on``); logs of noisy libraries lose ``secrets``."""
    global _instrumented_for
    if _instrumented_for is provider:
        return
    remove_gate()  # installed alone earlier (ensure_gate): it goes back in front of the instrumentation
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        # Instrumented without our hooks (opentelemetry-instrument does that first), or for another
        # provider: again, with them.
        instrumentor.uninstrument()
    instrumentor.instrument(
        tracer_provider=provider,
        request_hook=hooks.request_hook,
        response_hook=hooks.response_hook,
        async_request_hook=hooks.async_request_hook,
        async_response_hook=hooks.async_response_hook,
    )
    install_gate(is_on)
    install_log_redaction(secrets)
    for cls in (httpx.Client, httpx.AsyncClient):
        if not isinstance(cls.__dict__["__init__"], FunctionWrapper):  # once: a second wrapper counts twice
            wrap_function_wrapper(cls, "__init__", _count_session)
    _instrumented_for = provider


def uninstrument() -> None:
    """httpx without our gate, the OpenTelemetry instrumentation or session counting."""
    global _instrumented_for
    remove_gate()
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    for cls in (httpx.Client, httpx.AsyncClient):
        init = cls.__dict__["__init__"]
        if isinstance(init, FunctionWrapper):
            setattr(cls, "__init__", init.__wrapped__)
    _instrumented_for = None
