"""Install the debug pipeline: tracer provider, sampler, processor, httpx hooks.

Usage::

    from batch_debug.instrumentation import setup
    pipeline = setup()                  # idempotent; one line in the worker
    pipeline = setup(otlp_endpoint="http://collector:4318")   # and export OTLP too

``setup`` builds a ``TracerProvider`` whose sampler is the debug sampler and
whose processor writes job files, makes it the global provider (unless asked
not to, or one is already set), and auto-instruments httpx (sync and async)
with opentelemetry-instrumentation-httpx plus our hooks. When
``otlp_endpoint`` is given or ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` is set,
recorded spans also go there (OTLP/HTTP, protobuf, batched; failures are
counted for ``/status``). The switch is the debug folder's, or the sidecar's
when ``APHRODITE_BATCH_DEBUG_URL`` is set.

Calling ``setup`` again returns the same pipeline; passing ``directory`` or
``switch`` again points it at them (instrumentation is process-wide). Any
other argument given a non-default value that differs from the first call's
(``processors``, ``set_global``, ``handle_sigterm``, ``otlp_endpoint``) cannot
be honoured then: a WARNING names each one, and the first pipeline is kept.
In strict mode (``setup(..., strict=True)``, or :func:`strict_setup` for the
whole process, as the tests do) that raises :class:`SetupConflictError` instead.

Tests, and anything else that needs another pipeline for a while, swap and
reset explicitly::

    with installed(folder, switch=DebugSwitch(folder)) as pipeline:   # built, installed,
        ...                                     # then the previous one back, even on error
    with use_pipeline(other):                   # an existing pipeline, the same way
        ...
    reset()            # no pipeline: httpx uninstrumented, switch_is_on() False, SIGTERM as before

The global tracer provider is the one thing not undone: OpenTelemetry lets a
process set it once.

:func:`attach` is the same instrumentation on a provider someone else built
from ``otel-config.yaml`` (zero-code mode, see ``zerocode``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from ..collector.processor import JobFileWriter, JobSpanProcessor
from ..collector.remote_switch import RemoteSwitch
from ..collector.sampler import DebugSampler
from ..collector.switch import DebugSwitch
from ..collector.writer_env import env_secrets
from . import clients, sigterm
from .lean import LeanSpans
from .parts import Pipeline, build
from .spans import TRACER_NAME
from .transport import install_gate
from .. import __version__

__all__ = ["Pipeline", "SetupConflictError", "attach", "build", "current_pipeline", "current_tracer",
           "ensure_gate", "install", "installed", "reset", "setup", "strict_setup", "switch_is_on", "use_pipeline"]

logger = logging.getLogger(__name__)


class SetupConflictError(RuntimeError):
    """A second ``setup()`` asked for something the installed pipeline cannot take (strict mode only)."""


_lock = threading.RLock()
_pipeline: Pipeline | None = None
_strict = False
#: setup() arguments a second call cannot change, with their defaults.
_FIXED_SETTINGS: dict[str, object] = {"processors": (), "set_global": True, "handle_sigterm": True,
                                      "otlp_endpoint": None}


def strict_setup(on: bool = True) -> None:
    """Process-wide: a second ``setup`` with arguments it would ignore raises instead of warning."""
    global _strict
    _strict = on


def _secrets() -> list[str]:
    found = env_secrets()
    if _pipeline is not None:
        found.extend(_pipeline.secrets)
    return found


def switch_is_on() -> bool:
    """The current pipeline's switch, looked up per call so tests can swap it."""
    return _pipeline is not None and _pipeline.switch.is_on()


def _current_processor() -> JobSpanProcessor | None:
    return _pipeline.processor if _pipeline is not None else None


def _instrument(provider: TracerProvider) -> None:
    clients.instrument(provider, is_on=switch_is_on, secrets=_secrets)


def ensure_gate() -> None:
    """The transport gate alone, for a process that never calls :func:`setup` but records
    jobs for itself (the dashboard's Custom ID Test). Idempotent; ``setup`` keeps it in front."""
    install_gate(switch_is_on)


def install(pipeline: Pipeline, *, set_global: bool = False, handle_sigterm: bool = False) -> Pipeline | None:
    """Make ``pipeline`` the current one (httpx reports to its provider); returns the one it replaced.

    ``set_global``: also make its provider OpenTelemetry's global one, unless
    one is set already. ``handle_sigterm``: write open jobs on SIGTERM (the
    handler serves whichever pipeline is current then).
    """
    global _pipeline
    with _lock:
        if set_global and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(pipeline.provider)
        previous, _pipeline = _pipeline, pipeline
        _instrument(pipeline.provider)
        if handle_sigterm and pipeline.processor is not None:
            sigterm.install(_current_processor)
        return previous


def reset() -> None:
    """Back to no pipeline: pending files written, httpx uninstrumented, ``switch_is_on()`` False,
    the SIGTERM handler that was there before back. The old pipeline stays usable for :func:`install`."""
    global _pipeline
    with _lock:
        previous, _pipeline = _pipeline, None
        if previous is not None:
            previous.flush()
        clients.uninstrument()
        sigterm.restore()


@contextmanager
def use_pipeline(pipeline: Pipeline) -> Iterator[Pipeline]:
    """``pipeline`` installed for the block; then the previous one back (or none), even on error."""
    with _lock:
        previous = install(pipeline)
    try:
        yield pipeline
    finally:
        with _lock:
            pipeline.flush()
            if previous is not None:
                install(previous)
            else:
                reset()


@contextmanager
def installed(
    directory: Path | str | None = None,
    *,
    switch: DebugSwitch | RemoteSwitch | None = None,
    processors: Sequence[SpanProcessor] = (),
    otlp_endpoint: str | None = None,
) -> Iterator[Pipeline]:
    """A fresh pipeline (:func:`build`) installed for the block, then shut down; the previous one back."""
    pipeline = build(directory, switch=switch, processors=processors, otlp_endpoint=otlp_endpoint)
    try:
        with use_pipeline(pipeline):
            yield pipeline
    finally:
        pipeline.shutdown()


def _ignored(settings: dict[str, object], given: dict[str, object]) -> list[str]:
    """Arguments given a non-default value unlike the first call's: a later ``setup`` cannot apply them."""
    return [name for name, value in given.items()
            if value != _FIXED_SETTINGS[name] and value != settings.get(name, _FIXED_SETTINGS[name])]


def setup(
    directory: Path | str | None = None,
    *,
    switch: DebugSwitch | RemoteSwitch | None = None,
    processors: Sequence[SpanProcessor] = (),
    set_global: bool = True,
    handle_sigterm: bool = True,
    otlp_endpoint: str | None = None,
    strict: bool | None = None,
) -> Pipeline:
    """Install (once) and return the debug pipeline.

    ``handle_sigterm``: on SIGTERM, write running jobs' files (marked
    incomplete) before the process ends. ``otlp_endpoint``
    (``http://host:4318``): export recorded spans there too; default: the
    ``OTEL_EXPORTER_OTLP_*`` variables, or no export. ``strict`` (default:
    :func:`strict_setup`'s): raise :class:`SetupConflictError` rather than
    warn when a second call's arguments would be ignored.
    """
    given = {"processors": tuple(processors), "set_global": set_global, "handle_sigterm": handle_sigterm,
             "otlp_endpoint": otlp_endpoint}
    with _lock:
        if _pipeline is not None:
            ignored = _ignored(_pipeline.settings, given)
            if ignored:
                message = (f"setup() was called again with {', '.join(ignored)} unlike the first call; the "
                           "pipeline installed first is kept, so these arguments are ignored")
                if _strict if strict is None else strict:
                    raise SetupConflictError(f"{message}. Call reset() first, or use installed() for a while.")
                logger.warning("%s", message)
            if switch is not None or directory is not None:
                _pipeline.point_at(directory, switch or DebugSwitch(directory))
            return _pipeline
        pipeline = build(directory, switch=switch, processors=processors, otlp_endpoint=otlp_endpoint)
        pipeline.settings.update(given)
        install(pipeline, set_global=set_global, handle_sigterm=handle_sigterm)
        return pipeline


def attach(provider: TracerProvider, writer: JobFileWriter | None = None) -> Pipeline | None:
    """Instrument for a provider built elsewhere (``otel-config.yaml``) whose sampler is ours.

    Returns the pipeline, or None (and changes nothing) when the provider's
    root sampler is not a :class:`DebugSampler`. ``writer`` is the job-file
    exporter's, so ``job_file`` and ``add_secret`` work as after ``setup``.
    """
    global _pipeline
    sampler = getattr(provider, "sampler", None)
    from .upstream import root_sampler  # the one module touching upstream private attributes

    root = root_sampler(sampler)  # ParentBased keeps its root in a private attribute
    if not isinstance(root, DebugSampler):
        return None
    with _lock:
        if _pipeline is not None:
            return _pipeline
        if writer is not None:
            writer.secrets = _secrets
        _instrument(provider)
        _pipeline = Pipeline(provider, root.switch, root, None, writer, LeanSpans(provider, __version__))
        return _pipeline


def current_pipeline() -> Pipeline | None:
    return _pipeline


def current_tracer() -> trace.Tracer:
    """Our pipeline's tracer, or the global one before ``setup``."""
    if _pipeline is not None:
        return _pipeline.provider.get_tracer(TRACER_NAME)
    return trace.get_tracer(TRACER_NAME)
