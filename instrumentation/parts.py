"""The pieces of a debug pipeline and how they are built, before anything process-wide changes.

Usage (``pipeline.setup``, ``pipeline.installed`` and the tests do this)::

    pipeline = build(folder, switch=DebugSwitch(folder))   # provider, sampler, processor, writer
    pipeline.point_at(other_folder, other_switch)          # re-pointed in place
    pipeline.shutdown()                                    # pending files written, processors stopped

A built pipeline is inert: httpx reports to it only once ``pipeline.install``
makes it the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased

from ..collector import config
from ..collector.export import otlp_processor
from ..collector.processor import JobFileWriter, JobSpanProcessor
from ..collector.remote_switch import RemoteSwitch, make_switch
from ..collector.sampler import DebugSampler
from ..collector.switch import DebugSwitch
from ..collector.writer_env import env_max_spans, env_secrets, writer_from_env
from .lean import LeanSpans
from .. import __version__

#: ``service.name`` when the environment names none (the same default as ``otel-config.yaml``).
DEFAULT_SERVICE_NAME = "batch-worker"


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
    #: The arguments ``setup`` built it with, to tell a later call what it cannot change.
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.writer.directory if self.writer is not None else config.debug_dir()

    def add_secret(self, secret: str | None) -> None:
        """Redact this literal value (e.g. the API key in use) from every job file."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def point_at(self, directory: Path | str | None, switch: DebugSwitch | RemoteSwitch) -> None:
        """Follow ``switch`` and write job files into ``directory`` (default: the switch's folder)."""
        self.switch = switch
        self.root_sampler.switch = switch
        if self.writer is not None:
            self.writer.directory = _folder(directory, switch)

    def job_file(self, job_id: str, timeout: float = 10.0) -> Path | None:
        """Wait for pending job files, then the newest file this process wrote for ``job_id``."""
        if self.writer is None:
            return None
        self.writer.flush(timeout)
        return self.writer.written.get(job_id)

    def flush(self, timeout: float = 10.0) -> bool:
        return self.writer.flush(timeout) if self.writer is not None else True

    def shutdown(self) -> None:
        """Write what is pending and stop the provider's processors (the pipeline is done for)."""
        self.flush()
        self.provider.shutdown()


def _folder(directory: Path | str | None, switch: DebugSwitch | RemoteSwitch) -> Path:
    if directory is not None:
        return Path(directory)
    return switch.directory if isinstance(switch, DebugSwitch) else config.debug_dir()


def worker_resource() -> Resource:
    """The SDK's resource (detectors, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``, which wins),
    named ``batch-worker`` when neither variable names the service (not ``unknown_service:python3``)."""
    resource = Resource.create()
    if not OTELResourceDetector().detect().attributes.get(SERVICE_NAME):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource


def build(
    directory: Path | str | None = None,
    *,
    switch: DebugSwitch | RemoteSwitch | None = None,
    processors: Sequence[SpanProcessor] = (),
    otlp_endpoint: str | None = None,
) -> Pipeline:
    """A new pipeline, not installed: nothing process-wide changes until ``pipeline.install``."""
    switch = switch or make_switch(directory)
    root = DebugSampler(switch)
    secrets: list[str] = []
    provider = TracerProvider(sampler=ParentBased(root=root), resource=worker_resource())
    writer = writer_from_env(
        _folder(directory, switch),
        secrets=lambda: [*env_secrets(), *secrets],
        debug_enabled=lambda: root.switch.is_on(),  # looked up per call: the switch can be re-pointed
    )
    processor = JobSpanProcessor(writer, max_spans=env_max_spans())
    provider.add_span_processor(processor)
    for extra in processors:
        provider.add_span_processor(extra)
    exporting = otlp_processor(lambda: writer.directory, otlp_endpoint)
    if exporting is not None:
        provider.add_span_processor(exporting)
    settings: dict[str, object] = {"processors": tuple(processors), "otlp_endpoint": otlp_endpoint}
    return Pipeline(provider, switch, root, processor, writer, LeanSpans(provider, __version__), secrets, settings)
