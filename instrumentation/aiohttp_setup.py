"""aiohttp instrumented for one tracer provider, behind our gate, with session counting; and undone.

Usage (``clients`` does this when aiohttp and
opentelemetry-instrumentation-aiohttp-client are installed)::

    instrument(provider, is_on=switch_is_on)   # idempotent per provider
    uninstrument()                             # aiohttp as it was

aiohttp is traced through ``TraceConfig`` objects a ``ClientSession`` holds
from its creation; the stock ``AioHttpClientInstrumentor`` adds a fresh one
to every new session (building a tracer and a meter each time), and aiohttp
runs every one on every request. The gate replaces that: the instrumentor
is instrumented for ``provider`` and its trace config taken once, then
``ClientSession.__init__`` gives each new session a :class:`_Gated` list
of trace configs, which aiohttp iterates at the start of every request, in
the request's context. Per request it yields:

- no recorded job in the context and debug off: the session's own
  configs only (none, usually), so aiohttp takes its untraced path. Cost: a
  ``ContextVar.get`` and the switch's cached check;
- a job in the context: ours too, the recorder of ``aiohttp_trace``
  (which leaves requests under OpenTelemetry's suppress-instrumentation
  context alone);
- debug on outside any job: the stock instrumentation's config, whose
  spans reach an OTLP viewer (their URL redacted like ours), counted in
  ``jobstate.OUTSIDE``.

``ClientSession.__init__`` also counts sessions made inside a job
(``job.sessions_created``: a session per call is what the connection
findings look for), and ``ClientSession.close`` marks the session's gate,
so a request it cuts is ``aborted``, not the server's failure. Sessions
created before :func:`instrument` are not traced (as with the stock
instrumentation). In zero-code mode ``opentelemetry-instrument`` has
already run the instrumentor without the gate: it is undone and done again.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor, create_trace_config
from opentelemetry.sdk.trace import TracerProvider
from wrapt import FunctionWrapper

from ..collector.redact import redact_url
from .aiohttp_trace import recorder
from .jobstate import OUTSIDE, current_job
from .upstream import instrumentation_suppressed, wrapper_function

logger = logging.getLogger(__name__)


def _never() -> bool:
    return False


_instrumented_for: TracerProvider | None = None
_is_on: Callable[[], bool] = _never  # the switch's cheap check while instrumented
_recorder: aiohttp.TraceConfig | None = None
_stock: aiohttp.TraceConfig | None = None
_gate_init: Any = None  # our wrapper on ClientSession.__init__ (compared by identity)
_gate_close: Any = None


class _Gated(list):
    """A session's trace configs (its own ones as list items) as aiohttp iterates them per request.

    Also the session's mark for the recorder: ``_batch_debug_closed`` once
    the session is closing (``exchange.Attempt`` reads it as its transport's),
    and ``pending``, the attempts waiting for a read that end at close.
    """

    __slots__ = ("_batch_debug_closed", "pending")

    def __init__(self, configs: Any = ()) -> None:
        super().__init__(configs)
        self._batch_debug_closed = False
        self.pending: dict[Any, bool] = {}

    def __bool__(self) -> bool:
        return True  # aiohttp keeps ``trace_configs or []``: an empty gate must stay

    def __iter__(self) -> Iterator[aiohttp.TraceConfig]:
        if current_job.get() is not None and _recorder is not None:
            return iter([*list.__iter__(self), _recorder])
        if _is_on() and _stock is not None:
            return iter([*list.__iter__(self), _stock])
        return list.__iter__(self)

    def closing(self) -> None:
        self._batch_debug_closed = True
        pending, self.pending = self.pending, {}
        for attempt in pending:
            try:
                attempt.finish()
            except Exception:  # noqa: BLE001
                logger.exception("batch-debug could not end an aiohttp attempt")


def _gated_init(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    job = current_job.get()
    if job is not None:
        job.sessions_created += 1
    kwargs["trace_configs"] = _Gated(kwargs.get("trace_configs") or ())
    return wrapped(*args, **kwargs)


def _closing(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    configs = instance.trace_configs
    if isinstance(configs, _Gated):
        configs.closing()
    return wrapped(*args, **kwargs)


async def _count_outside(session: Any, ctx: Any, params: Any) -> None:
    """Debug on, no job: a request the job files hint at (our own probes and exporters excepted)."""
    if not instrumentation_suppressed():
        OUTSIDE.add()


def _url_filter(url: Any) -> str:
    """The URL stock spans carry: ``ApiKey``/``api_key`` redacted (the stock redaction misses them)."""
    return redact_url(str(url))


def _take_stock_config(provider: TracerProvider) -> tuple[aiohttp.TraceConfig, Any]:
    """The instrumentor's trace config for ``provider``, and ``ClientSession.__init__`` without its wrapper.

    The instrumentor wraps ``__init__`` (wrapt) with a function that appends
    a new config to the session's; that function (``upstream.wrapper_function``)
    is called once here to build the config with every setting the
    instrumentor read (semantic conventions, captured headers). Without it,
    ``create_trace_config`` with the defaults, and a warning.
    """
    current = inspect.getattr_static(aiohttp.ClientSession, "__init__")
    plain = current.__wrapped__ if isinstance(current, FunctionWrapper) else current
    build = wrapper_function(current) if isinstance(current, FunctionWrapper) else None
    if build is not None:
        configs = build(lambda *args, **kwargs: kwargs["trace_configs"], None, (), {})
        stock = configs[-1]
    else:
        logger.warning("batch-debug could not take the aiohttp instrumentation's own trace config (no wrapt "
                       "_self_wrapper on ClientSession.__init__); stock aiohttp spans use the default settings")
        stock = create_trace_config(tracer_provider=provider, url_filter=_url_filter)
    return stock, plain


def instrument(provider: TracerProvider, *, is_on: Callable[[], bool]) -> None:
    """aiohttp reports to ``provider`` behind the gate (``is_on``: the debug switch's cheap check)."""
    global _instrumented_for, _is_on, _recorder, _stock, _gate_init, _gate_close
    if _instrumented_for is provider:
        return
    uninstrument()  # instrumented by opentelemetry-instrument, or for another provider: again, behind the gate
    try:
        AioHttpClientInstrumentor().instrument(tracer_provider=provider, url_filter=_url_filter)
        stock, plain = _take_stock_config(provider)
        stock.on_request_start.append(_count_outside)
        stock.freeze()
        _gate_init = FunctionWrapper(plain, _gated_init)
        aiohttp.ClientSession.__init__ = _gate_init  # type: ignore[method-assign]
        _gate_close = FunctionWrapper(inspect.getattr_static(aiohttp.ClientSession, "close"), _closing)
        aiohttp.ClientSession.close = _gate_close  # type: ignore[method-assign]
    except BaseException:
        uninstrument()  # never the stock instrumentation without the gate in front
        raise
    _stock, _recorder, _is_on = stock, recorder(), is_on
    _instrumented_for = provider


def uninstrument() -> None:
    """aiohttp without the gate, the OpenTelemetry instrumentation or session counting.

    Sessions made meanwhile keep their gate, which then lets every request through untraced.
    """
    global _instrumented_for, _is_on, _recorder, _stock, _gate_init, _gate_close
    _is_on, _recorder, _stock = _never, None, None
    instrumentor = AioHttpClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()  # unwraps the outermost __init__ wrapper: ours, or its own
    for name, ours in (("__init__", _gate_init), ("close", _gate_close)):
        current = inspect.getattr_static(aiohttp.ClientSession, name)
        if ours is not None and current is ours:
            setattr(aiohttp.ClientSession, name, ours.__wrapped__)
    _gate_init = _gate_close = None
    _instrumented_for = None
