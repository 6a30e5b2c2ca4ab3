"""One job-file writer made from the environment, for every place that writes job files.

Usage::

    from batch_debug.collector.writer_env import env_max_spans, writer_from_env
    writer = writer_from_env(folder, debug_enabled=switch.is_on, secrets=env_secrets)
    processor = JobSpanProcessor(writer, max_spans=env_max_spans())

The local pipeline (``instrumentation.pipeline``), the exporter plugin
(``collector.plugins``) and the sidecar's OTLP receiver (``dashboard.otlp``)
all write job files the same way: the disk quota from
``APHRODITE_BATCH_DEBUG_MAX_MB``, the span cap from
``APHRODITE_BATCH_DEBUG_MAX_SPANS`` (bad values are logged and replaced by the
defaults, see ``config.env_int``). What differs between them is passed in:
which secrets to scrub and whether debug is on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from . import config, retention
from .writer import JobFileWriter

logger = logging.getLogger(__name__)


def env_secrets() -> list[str]:
    """Literal values to scrub from job files: the configured Jellyfin API key."""
    key = os.environ.get(config.JELLYFIN_API_KEY, "")
    return [key] if key else []


def env_max_spans(environ: dict[str, str] | None = None) -> int:
    """``APHRODITE_BATCH_DEBUG_MAX_SPANS``: most spans kept per job."""
    return config.env_int(config.APHRODITE_BATCH_DEBUG_MAX_SPANS, config.DEFAULT_MAX_SPANS, environ=environ)


def env_max_bytes(environ: dict[str, str] | None = None) -> int:
    """``APHRODITE_BATCH_DEBUG_MAX_MB`` in bytes: the disk quota for job files and spools."""
    return config.env_int(config.APHRODITE_BATCH_DEBUG_MAX_MB, config.DEFAULT_MAX_MB, environ=environ) * 2**20


def writer_from_env(
    directory: Path | str,
    *,
    debug_enabled: Callable[[], bool],
    secrets: Callable[[], Sequence[str]] = tuple,
    clean_temp_files: bool = True,
    environ: dict[str, str] | None = None,
) -> JobFileWriter:
    """A :class:`JobFileWriter` into ``directory`` with the quota from the environment.

    ``clean_temp_files``: first remove temporary files that killed writers left
    in the folder; a failure there is logged, never raised (the job carries on).
    The writer's thread starts with its first job.
    """
    folder = Path(directory)
    if clean_temp_files:
        try:
            retention.remove_stale_temp_files(folder)
        except OSError:
            logger.warning("could not clean temporary files in %s", folder, exc_info=True)
    return JobFileWriter(folder, secrets=secrets, debug_enabled=debug_enabled, max_bytes=env_max_bytes(environ))
