"""Our components as OpenTelemetry plugins, for a declarative configuration file.

``pyproject.toml`` registers them as entry points, which the SDK's
configuration loader (``OTEL_CONFIG_FILE``, ``opentelemetry-configuration``)
finds by name::

    tracer_provider:
      sampler:
        parent_based:
          root:
            batch_debug_sampler:            # entry point group opentelemetry_sampler
      processors:
        - simple:
            exporter:
              batch_debug_jobfile:          # entry point group opentelemetry_traces_exporter
                directory: ./debug_logs/batch_jobs    # optional

- :func:`debug_sampler` (``batch_debug_sampler``): the debug sampler on this
  process's switch (the debug folder's, or the sidecar's when
  ``APHRODITE_BATCH_DEBUG_URL`` is set). The loader calls it without
  arguments.
- :class:`JobFileExporter` (``batch_debug_jobfile``): a ``SpanExporter`` that
  assembles job files from the finished spans it is handed
  (``assembler.JobAssembler``). Behind a ``simple`` processor it sees every
  span at once and in order; behind ``batch`` it shares that processor's
  queue limit (spans past it are lost to the file too).

Both share one switch per process (:func:`shared_switch`), and so does the
zero-code hook (``instrumentation.zerocode``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import config
from .assembler import PENDING_TIMEOUT_SECONDS, JobAssembler
from .remote_switch import RemoteSwitch, make_switch
from .sampler import DebugSampler
from .switch import DebugSwitch
from .writer import JobFileWriter
from .writer_env import env_max_spans, env_secrets, writer_from_env

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_switch: DebugSwitch | RemoteSwitch | None = None
_latest: JobFileExporter | None = None


def shared_switch() -> DebugSwitch | RemoteSwitch:
    """This process's debug switch for the plugins, made once from the environment."""
    global _switch
    with _lock:
        if _switch is None:
            _switch = make_switch()
        return _switch


def debug_sampler() -> DebugSampler:
    """Entry point ``batch_debug_sampler``: records a trace's root only while debug is on."""
    return DebugSampler(shared_switch())


class JobFileExporter(SpanExporter):
    """Entry point ``batch_debug_jobfile``: writes one job file per finished job.

    Arguments are the keys the configuration file may give:
    ``directory`` (default ``APHRODITE_BATCH_DEBUG_DIR``), ``max_spans``
    (default ``APHRODITE_BATCH_DEBUG_MAX_SPANS``), ``pending_timeout_seconds``
    (how long spans wait for their job span, default 600). ``export`` only
    sorts spans into their jobs; encoding and disk work happen on the
    writer's thread, so it is cheap enough for a ``simple`` processor. It
    never raises.
    """

    def __init__(
        self,
        directory: str | None = None,
        max_spans: int | None = None,
        pending_timeout_seconds: float | None = None,
    ) -> None:
        folder = Path(directory) if directory else config.debug_dir()
        writer = writer_from_env(folder, secrets=env_secrets, debug_enabled=shared_switch().is_on)
        self.assembler = JobAssembler(
            writer,
            max_spans=max_spans or env_max_spans(),
            pending_timeout=pending_timeout_seconds or PENDING_TIMEOUT_SECONDS,
        )
        global _latest
        with _lock:
            _latest = self

    @property
    def writer(self) -> JobFileWriter:
        return self.assembler.writer

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.assembler.add(spans)  # logs and skips what it cannot use; never raises
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.assembler.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.assembler.flush(timeout_millis / 1000)


def latest_exporter() -> JobFileExporter | None:
    """The job-file exporter the configuration built last in this process, if any."""
    with _lock:
        return _latest
