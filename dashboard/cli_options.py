"""What every ``batch-debug`` command shares: the debug folder option.

Usage::

    @click.command()
    @DIR_OPTION
    def command(directory: Path | None) -> None:
        folder = debug_folder(directory)
"""

from __future__ import annotations

from pathlib import Path

import click

from ..collector import config

DIR_OPTION = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Debug folder (default: $APHRODITE_BATCH_DEBUG_DIR or ./debug_logs/batch_jobs).",
)


def debug_folder(directory: Path | None) -> Path:
    """``--dir`` when given, else ``APHRODITE_BATCH_DEBUG_DIR`` or the default folder."""
    return directory if directory is not None else config.debug_dir()
