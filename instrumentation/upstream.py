"""The one place that reaches into private parts of OpenTelemetry, httpx and wrapt proxies.

Every use of an upstream name that is not public API goes through a function
here, so an upgrade has one module to read and ``tests/test_upstream_contracts.py``
(one test per private attribute, against the installed packages) to run.
The versions each was checked against are the ``==`` pins in
``pyproject.toml``: opentelemetry-sdk 1.45.1, opentelemetry-instrumentation(-httpx)
0.66b1, httpx 0.28.1, httpcore 1.0.9, wrapt 2.5.2.

If a private attribute is gone, each function either raises
:class:`UpstreamChanged` (a sentence naming the attribute and the installed
version) or takes a fallback its docstring names, with the same behaviour,
or a warning once when the fallback does less. Never a silent change.

``collector/`` may not import this module (layers). Its needs: header pairs
in ``collector.secrets`` use httpx's public ``Headers.raw`` instead; the OTLP
JSON encoder's per-span functions are reached in ``collector.span_encoding``,
under the same rules (checked in the same test module, with a fallback to
the public ``encode_spans`` and a warning when they are gone).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler
from wrapt import BaseObjectProxy

logger = logging.getLogger(__name__)


class UpstreamChanged(RuntimeError):
    """A private upstream attribute batch-debug relies on is not there (an upgrade past the pins)."""


def installed(distribution: str) -> str:
    """The installed version of ``distribution``, for messages ("not installed" when it is not)."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def _changed(attribute: str, distribution: str, checked: str, consequence: str) -> UpstreamChanged:
    return UpstreamChanged(
        f"{attribute} is not there in {distribution} {installed(distribution)} (batch-debug was checked "
        f"against {checked}): {consequence}. Install the version pinned in pyproject.toml, or update "
        f"batch_debug/instrumentation/upstream.py and tests/test_upstream_contracts.py."
    )


# -- opentelemetry-sdk --------------------------------------------------------------------------------

def span_processor_of(provider: TracerProvider) -> SpanProcessor:
    """The provider's fan-out to all its span processors: ``TracerProvider._active_span_processor``.

    Checked against opentelemetry-sdk 1.45.1. The fan-out also reaches
    processors added after this call (an OTLP exporter, a test's in-memory
    one), which a list of processors taken now would not. There is no public
    way to reach it; when it is gone this raises :class:`UpstreamChanged` (at
    ``setup()``), since lean spans handed to nobody would be a job without a
    record.
    """
    processor = getattr(provider, "_active_span_processor", None)
    if processor is None or not callable(getattr(processor, "on_end", None)):
        raise _changed("TracerProvider._active_span_processor", "opentelemetry-sdk", "1.45.1",
                       "batch-debug could not hand its request spans to the provider's span processors")
    return processor


def root_sampler(sampler: Sampler | None) -> Sampler | None:
    """The sampler deciding for root spans: ``ParentBased._root``, or ``sampler`` itself when it is not
    a ``ParentBased``.

    Checked against opentelemetry-sdk 1.45.1. When a ``ParentBased`` has no
    ``_root`` this raises :class:`UpstreamChanged` rather than take the
    ``ParentBased`` for the root (which would make ``attach`` quietly skip a
    provider that does use our sampler).
    """
    if not isinstance(sampler, ParentBased):
        return sampler
    root = getattr(sampler, "_root", None)
    if not isinstance(root, Sampler):
        raise _changed("ParentBased._root", "opentelemetry-sdk", "1.45.1",
                       "batch-debug cannot tell whether a configured provider uses its sampler")
    return root


# -- opentelemetry-instrumentation ----------------------------------------------------------------------

try:
    # Private, and named so upstream ("FIXME ... when the location ... is defined"); the public
    # is_http_instrumentation_enabled() reads the context three times for the same answer.
    from opentelemetry.instrumentation.utils import (
        _SUPPRESS_HTTP_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY_PLAIN,
    )
except ImportError:  # pragma: no cover - only past the pins
    SUPPRESSION_KEYS_FOUND = False
else:
    SUPPRESSION_KEYS_FOUND = True


def _suppressed_by_keys() -> bool:
    current = otel_context.get_current()
    return bool(current.get(_SUPPRESS_HTTP_INSTRUMENTATION_KEY) or current.get(_SUPPRESS_INSTRUMENTATION_KEY)
                or current.get(_SUPPRESS_INSTRUMENTATION_KEY_PLAIN))


def _suppressed_by_public_api() -> bool:
    return not is_http_instrumentation_enabled()


#: OpenTelemetry's suppress-instrumentation context (plain or HTTP) is on. Reads the private keys
#: ``_SUPPRESS_HTTP_INSTRUMENTATION_KEY``, ``_SUPPRESS_INSTRUMENTATION_KEY`` and
#: ``_SUPPRESS_INSTRUMENTATION_KEY_PLAIN`` of ``opentelemetry.instrumentation.utils`` (checked against
#: opentelemetry-instrumentation 0.66b1) in one read of the context; when they are gone, the public
#: ``not is_http_instrumentation_enabled()``, the same answer a little slower.
instrumentation_suppressed: Callable[[], bool] = (
    _suppressed_by_keys if SUPPRESSION_KEYS_FOUND else _suppressed_by_public_api)


# -- opentelemetry-instrumentation-httpx + wrapt -----------------------------------------------------------

def uninstrumented(cls: type, name: str) -> Callable[..., Any]:
    """``cls.name`` without the instrumentation's wrapper: the method the gate calls when debug is off.

    opentelemetry-instrumentation-httpx (checked against 0.66b1, wrapt
    2.5.2) replaces ``HTTPTransport.handle_request`` and
    ``AsyncHTTPTransport.handle_async_request`` in the class with a wrapt
    ``FunctionWrapper`` whose ``__wrapped__`` is the method it replaced:
    that method is returned. When httpx is not instrumented, ``cls.name``
    itself. When it is instrumented but the method is no wrapt wrapper, this
    raises :class:`UpstreamChanged`: taking the instrumented method for the
    plain one would send every request, debug off, through the stock
    instrumentation.
    """
    current = inspect.getattr_static(cls, name)
    if isinstance(current, BaseObjectProxy):
        return current.__wrapped__
    if HTTPXClientInstrumentor().is_instrumented_by_opentelemetry:
        raise _changed(f"the wrapt wrapper (__wrapped__) on {cls.__name__}.{name}",
                       "opentelemetry-instrumentation-httpx", "0.66b1 with wrapt 2.5.2",
                       f"batch-debug cannot find the uninstrumented {cls.__name__}.{name}, found {current!r}")
    return getattr(cls, name)


# -- httpx ---------------------------------------------------------------------------------------------------

def header_items(headers: httpx.Headers) -> list[tuple[bytes, bytes, bytes]]:
    """``(raw name, lower-case name, value)`` of each header: httpx's ``Headers._list``.

    Checked against httpx 0.28.1, where the list holds exactly these
    triples; reading it spares lower-casing every name on each request's
    path. When it is gone, the same triples are built from the public
    ``Headers.raw``.
    """
    items = getattr(headers, "_list", None)
    if items is not None:
        return items
    return [(name, name.lower(), value) for name, value in headers.raw]


_warned_stream = False


def httpcore_stream(stream: Any) -> Any:
    """The httpcore stream inside httpx's ``ResponseStream``: its ``_httpcore_stream``, or None.

    Checked against httpx 0.28.1. Other stream types give None (nothing
    to peek at: the caller leaves them alone). When httpx's own
    ``ResponseStream`` no longer has the attribute, None too, and a warning
    once naming it: stock spans then carry no error body.
    """
    inner = getattr(stream, "_httpcore_stream", None)
    if inner is None and type(stream).__name__ == "ResponseStream":
        global _warned_stream
        if not _warned_stream:
            _warned_stream = True
            logger.warning("%s", _changed("ResponseStream._httpcore_stream", "httpx", "0.28.1",
                                          "stock spans of failed requests carry no error body"))
    return inner


def replace_httpcore_stream(stream: Any, replacement: Any) -> None:
    """Put ``replacement`` where :func:`httpcore_stream` found the inner stream (``_httpcore_stream``)."""
    stream._httpcore_stream = replacement  # noqa: SLF001


# -- aiohttp ---------------------------------------------------------------------------------------------------

def aiohttp_body_start(content: Any, limit: int) -> bytes | None:
    """The first ``limit`` bytes of an aiohttp response body that arrived with its head and is unread yet:
    the head of its ``StreamReader``'s ``_buffer`` while its ``_cursor`` is 0 (nothing read).

    Checked against aiohttp 3.14.5. None when no byte has arrived, some were read, or the attributes
    are gone (the body is then told apart only when it is read whole: ``aiohttp_trace._chunk``).
    """
    buffer = getattr(content, "_buffer", None)
    if not buffer or getattr(content, "_cursor", None) != 0 or getattr(content, "_buffer_offset", None) != 0:
        return None
    first = buffer[0]
    return bytes(first[:limit]) if isinstance(first, (bytes, bytearray)) else None


# -- opentelemetry-instrumentation-aiohttp-client + wrapt ---------------------------------------------------

def wrapper_function(proxy: Any) -> Callable[..., Any] | None:
    """The function a wrapt ``FunctionWrapper`` calls around the wrapped one: its ``_self_wrapper``, or None.

    Checked against wrapt 2.5.2 and opentelemetry-instrumentation-aiohttp-client
    0.66b1, whose wrapper on ``ClientSession.__init__`` ``aiohttp_setup``
    calls once to build the instrumentor's trace config with its settings.
    When it is gone, None: ``aiohttp_setup`` then builds the config with
    ``create_trace_config`` and the default settings, and warns.
    """
    found = getattr(proxy, "_self_wrapper", None)
    return found if callable(found) else None


# -- opentelemetry-instrumentation-requests -----------------------------------------------------------------

def requests_uninstrumented_send(instrumented: Callable[..., Any]) -> Callable[..., Any]:
    """``Session.send`` without the OpenTelemetry wrapper: ``instrumented`` itself when it is not wrapped.

    Checked against opentelemetry-instrumentation-requests 0.66b1, which marks
    its wrapper with ``opentelemetry_instrumentation_requests_applied`` and
    keeps the original in ``__wrapped__`` (``functools.wraps``).
    """
    if not getattr(instrumented, "opentelemetry_instrumentation_requests_applied", False):
        return instrumented
    original = getattr(instrumented, "__wrapped__", None)
    if original is None:
        raise _changed("Session.send.__wrapped__", "opentelemetry-instrumentation-requests", "0.66b1",
                       "batch-debug cannot find the uninstrumented send, so requests stay untraced")
    return original
