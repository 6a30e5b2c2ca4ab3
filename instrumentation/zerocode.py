"""Zero-code mode: ``opentelemetry-instrument`` with our ``otel-config.yaml``.

Usage::

    OTEL_CONFIG_FILE=otel-config.yaml opentelemetry-instrument python worker.py

The worker's code has only its job and ``job_span(...)`` / ``item_span(...)``.
``opentelemetry-instrument`` has the SDK build the tracer provider from the
file (our debug sampler and job-file exporter are entry-point plugins, see
``collector.plugins``), then runs every installed instrumentor, httpx's
among them, without our hooks. :func:`post_instrument` (entry point group
``opentelemetry_post_instrument``, called after all instrumentors) then does
for that provider what ``setup()`` does: httpx again with our hooks, the
gate and lean path for requests inside jobs, session counting and log
redaction. The job files therefore have the same content as with
``setup()``; they are assembled from finished spans by the exporter.

A process whose provider does not use our sampler (configured some other
way) is left as it is. Nothing here may stop the worker: failures are
logged.
"""

from __future__ import annotations

import logging

from opentelemetry import trace

from ..collector.plugins import latest_exporter
from .pipeline import attach

logger = logging.getLogger(__name__)


def post_instrument() -> None:
    """Entry point: attach our instrumentation to the provider the configuration file built."""
    try:
        provider = trace.get_tracer_provider()
        exporter = latest_exporter()
        pipeline = attach(provider, exporter.writer if exporter is not None else None)  # type: ignore[arg-type]
        if pipeline is None:
            logger.debug("batch-debug: the tracer provider does not use batch_debug_sampler; not attaching")
        else:
            logger.debug("batch-debug attached to the configured tracer provider")
    except Exception:  # noqa: BLE001 - auto-instrumentation must never stop the worker
        logger.exception("batch-debug could not attach to the configured tracer provider")
