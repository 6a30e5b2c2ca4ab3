"""OTLP export next to the job files, with failures counted where ``/status`` sees them.

Usage::

    provider.add_span_processor(otlp_processor(lambda: writer.directory))          # endpoint from env
    provider.add_span_processor(otlp_processor(folder, "http://collector:4318"))   # or given

Spans reach the exporter only while debug is on (the debug sampler drops
everything else), so with debug off nothing is sent. The exporter runs
behind a ``BatchSpanProcessor`` on its own thread: a receiver that is slow
or down never holds up the job, and the job file is written either way.
:class:`CountingExporter` counts each failed export in the cross-process
health report of the debug folder (``health.WriteHealth("export")``), which
``/status`` lists as ``export_errors``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from . import config
from .health import EXPORT, WriteHealth

logger = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
Folder = Path | Callable[[], Path]


class CountingExporter(SpanExporter):
    """Wraps a span exporter: a failed export is counted, reported and logged, never raised."""

    def __init__(self, inner: SpanExporter, directory: Folder, *, target: str = "the OTLP receiver") -> None:
        self.inner = inner
        self._directory = directory
        self.target = target
        self.health = WriteHealth(EXPORT)

    @property
    def directory(self) -> Path:
        return self._directory() if callable(self._directory) else self._directory

    @property
    def errors(self) -> int:
        return self.health.errors

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - an exporter's bug is not the job's
            logger.exception("batch-debug: the exporter to %s failed", self.target)
            self.health.failed(self.directory, f"exporting {len(spans)} spans to {self.target}", exc)
            return SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.health.succeeded(self.directory)
        else:
            self.health.failed(self.directory, f"exporting {len(spans)} spans to {self.target}",
                               ConnectionError("the receiver could not be reached or refused the spans"))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def traces_endpoint(endpoint: str) -> str:
    """``http://host:4318`` -> ``http://host:4318/v1/traces`` (a full ``.../v1/traces`` URL is kept)."""
    endpoint = endpoint.strip().rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def configured_endpoint(environ: dict[str, str] | None = None) -> str | None:
    """The traces endpoint the standard OTLP variables name, or None when neither is set."""
    env = environ if environ is not None else os.environ
    exact = env.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "").strip()
    if exact:
        return exact
    base = env.get(OTEL_EXPORTER_OTLP_ENDPOINT, "").strip()
    return traces_endpoint(base) if base else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def sidecar_headers(endpoint: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The bearer token, but only for the sidecar itself (``APHRODITE_BATCH_DEBUG_URL``'s origin).

    Never to any other receiver: a token must not leak to a third party's collector.
    """
    env = environ if environ is not None else os.environ
    token = env.get(config.APHRODITE_BATCH_DEBUG_TOKEN, "").strip()
    sidecar = env.get(config.APHRODITE_BATCH_DEBUG_URL, "").strip()
    if token and sidecar and _origin(sidecar) == _origin(endpoint):
        return {"authorization": f"Bearer {token}"}
    return {}


def otlp_processor(directory: Folder, endpoint: str | None = None) -> BatchSpanProcessor | None:
    """A batch processor exporting OTLP/HTTP (protobuf) to ``endpoint`` or the configured one.

    None when no endpoint is given or configured. Other settings (headers,
    timeout, compression) come from the standard ``OTEL_EXPORTER_OTLP_*``
    variables, as the OTLP exporter reads them.
    """
    url = traces_endpoint(endpoint) if endpoint else configured_endpoint()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        logger.warning("OTLP endpoint %r is not an http(s) URL; OTLP export is off", url)
        return None
    # Imported here: it pulls in protobuf and requests, which a process
    # that never exports should not carry (a bigger heap slows its GC).
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=url, headers=sidecar_headers(url) or None)
    return BatchSpanProcessor(CountingExporter(exporter, directory, target=url))
