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
when ``APHRODITE_BATCH_DEBUG_URL`` is set. Calling it again returns the same
pipeline; passing ``directory`` or ``switch`` again points the existing
pipeline at them (tests use this, since instrumentation is process-wide).

:func:`attach` is the same instrumentation on a provider someone else built
from ``otel-config.yaml`` (zero-code mode, see ``zerocode``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased
from wrapt import wrap_function_wrapper

from ..collector import config, retention
from ..collector.export import otlp_processor
from ..collector.processor import JobFileWriter, JobSpanProcessor
from ..collector.redact import install_log_redaction
from ..collector.remote_switch import RemoteSwitch, make_switch
from ..collector.sampler import DebugSampler
from ..collector.switch import DebugSwitch
from . import hooks
from .spans import TRACER_NAME, current_job
from .lean import LeanSpans
from .transport import install_gate, remove_gate
from .. import __version__

logger = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """The installed pieces, for callers that need to reach them."""

    provider: TracerProvider
    switch: DebugSwitch | RemoteSwitch
    root_sampler: DebugSampler
    #: None in zero-code mode: the job-file exporter assembles jobs from finished spans instead.
    processor: JobSpanProcessor | None
    #: None when nothing in this process writes job files (spans only go to OTLP).
    writer: JobFileWriter | None
    lean: LeanSpans
    secrets: list[str] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.writer.directory if self.writer is not None else config.debug_dir()

    def add_secret(self, secret: str | None) -> None:
        """Redact this literal value (e.g. the API key in use) from every job file."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def job_file(self, job_id: str, timeout: float = 10.0) -> Path | None:
        """Wait for pending job files, then the newest file this process wrote for ``job_id``."""
        if self.writer is None:
            return None
        self.writer.flush(timeout)
        return self.writer.written.get(job_id)

    def flush(self, timeout: float = 10.0) -> bool:
        return self.writer.flush(timeout) if self.writer is not None else True


_lock = threading.Lock()
_pipeline: Pipeline | None = None


def _secrets() -> list[str]:
    found = [os.environ.get(config.JELLYFIN_API_KEY, "")]
    if _pipeline is not None:
        found.extend(_pipeline.secrets)
    return [s for s in found if s]


def _count_session(wrapped, instance, args, kwargs):
    job = current_job.get()
    if job is not None:
        job.sessions_created += 1
    return wrapped(*args, **kwargs)


def switch_is_on() -> bool:
    """The current pipeline's switch, looked up per call so tests can swap it."""
    return _pipeline is not None and _pipeline.switch.is_on()


def _install_sigterm_handler(processor: JobSpanProcessor) -> None:
    """On SIGTERM, write open jobs as incomplete, then let the signal do what it did before.

    Only from the main thread (Python's rule), and never over a handler that
    ignores the signal.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_IGN, None):
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        try:
            written = processor.write_unfinished(timeout=5.0)
            for path in written:
                logger.warning("SIGTERM: wrote incomplete job file %s", path)
        except Exception:  # noqa: BLE001 - the process is stopping either way
            logger.exception("SIGTERM: could not write open jobs")
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def _folder(directory: Path | str | None, switch: DebugSwitch | RemoteSwitch) -> Path:
    if directory is not None:
        return Path(directory)
    return switch.directory if isinstance(switch, DebugSwitch) else config.debug_dir()


def _instrument(provider: TracerProvider) -> None:
    """httpx instrumented for ``provider`` with our hooks, the gate, session counting, log redaction."""
    remove_gate()  # installed alone earlier (ensure_gate): it goes back in front of the instrumentation
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        # Instrumented without our hooks (opentelemetry-instrument does that first): again, with them.
        instrumentor.uninstrument()
    instrumentor.instrument(
        tracer_provider=provider,
        request_hook=hooks.request_hook,
        response_hook=hooks.response_hook,
        async_request_hook=hooks.async_request_hook,
        async_response_hook=hooks.async_response_hook,
    )
    install_gate(switch_is_on)
    install_log_redaction(_secrets)
    wrap_function_wrapper(httpx.Client, "__init__", _count_session)
    wrap_function_wrapper(httpx.AsyncClient, "__init__", _count_session)


def ensure_gate() -> None:
    """The transport gate alone, for a process that never calls :func:`setup` but records
    jobs for itself (the dashboard's Custom ID Test). Idempotent; ``setup`` keeps it in front."""
    install_gate(switch_is_on)


def setup(
    directory: Path | str | None = None,
    *,
    switch: DebugSwitch | RemoteSwitch | None = None,
    processors: Sequence[SpanProcessor] = (),
    set_global: bool = True,
    handle_sigterm: bool = True,
    otlp_endpoint: str | None = None,
) -> Pipeline:
    """Install (once) and return the debug pipeline.

    ``handle_sigterm``: on SIGTERM, write running jobs' files (marked
    incomplete) before the process ends. ``otlp_endpoint``
    (``http://host:4318``): export recorded spans there too; default: the
    ``OTEL_EXPORTER_OTLP_*`` variables, or no export.
    """
    global _pipeline
    with _lock:
        if _pipeline is not None:
            if switch is not None or directory is not None:
                new_switch = switch or DebugSwitch(directory)
                _pipeline.switch = new_switch
                _pipeline.root_sampler.switch = new_switch
                if _pipeline.writer is not None:
                    _pipeline.writer.directory = _folder(directory, new_switch)
            return _pipeline
        switch = switch or make_switch(directory)
        folder = _folder(directory, switch)
        try:
            # Leftovers of a process killed mid-write; never fatal.
            retention.remove_stale_temp_files(folder)
        except OSError:
            logger.warning("could not clean temporary files in the debug folder", exc_info=True)
        root = DebugSampler(switch)
        provider = TracerProvider(sampler=ParentBased(root=root), resource=Resource.create())
        writer = JobFileWriter(
            folder,
            secrets=_secrets,
            debug_enabled=switch_is_on,  # looked up per call: the switch can be re-pointed
            max_bytes=config.env_int(config.APHRODITE_BATCH_DEBUG_MAX_MB, config.DEFAULT_MAX_MB) * 2**20,
        )
        processor = JobSpanProcessor(
            writer, max_spans=config.env_int(config.APHRODITE_BATCH_DEBUG_MAX_SPANS, config.DEFAULT_MAX_SPANS)
        )
        provider.add_span_processor(processor)
        for extra in processors:
            provider.add_span_processor(extra)
        exporting = otlp_processor(lambda: writer.directory, otlp_endpoint)
        if exporting is not None:
            provider.add_span_processor(exporting)
        if set_global:
            trace.set_tracer_provider(provider)
        _instrument(provider)
        _pipeline = Pipeline(provider, switch, root, processor, writer, LeanSpans(provider, __version__))
        if handle_sigterm:
            _install_sigterm_handler(processor)
        return _pipeline


def attach(provider: TracerProvider, writer: JobFileWriter | None = None) -> Pipeline | None:
    """Instrument for a provider built elsewhere (``otel-config.yaml``) whose sampler is ours.

    Returns the pipeline, or None (and changes nothing) when the provider's
    root sampler is not a :class:`DebugSampler`. ``writer`` is the job-file
    exporter's, so ``job_file`` and ``add_secret`` work as after ``setup``.
    """
    global _pipeline
    sampler = getattr(provider, "sampler", None)
    root = getattr(sampler, "_root", sampler)  # ParentBased keeps its root there
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
