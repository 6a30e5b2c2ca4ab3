"""What every ``batch-debug`` command shares: the debug folder option, and finding a job's file.

Usage::

    @click.command()
    @DIR_OPTION
    def command(directory: Path | None) -> None:
        folder = debug_folder(directory)        # where job files go (may not exist yet)
        folder = existing_folder(directory)     # for commands that read it: an Error if missing
        path = job_file(job, directory)         # JOB_ID_OR_FILE: a job's newest file, or a file named
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..collector import config, jobfile

DIR_OPTION = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Debug folder (default: $APHRODITE_BATCH_DEBUG_DIR or ./debug_logs/batch_jobs).",
)


def debug_folder(directory: Path | None) -> Path:
    """``--dir`` when given, else ``APHRODITE_BATCH_DEBUG_DIR`` or the default folder."""
    return directory if directory is not None else config.debug_dir()


def existing_folder(directory: Path | None) -> Path:
    """:func:`debug_folder`, or a one-line ``Error`` when it does not exist or is not a folder.

    For the commands that only read or prune the folder: a mistyped ``--dir``
    must not read as "no job files yet".
    """
    folder = debug_folder(directory)
    if not folder.exists():
        if directory is not None:
            raise click.ClickException(f"the folder {folder} does not exist; --dir must name the debug folder "
                                       f"your jobs write to")
        raise click.ClickException(f"the debug folder {folder} does not exist yet (no job has written there); "
                                   f"set {config.APHRODITE_BATCH_DEBUG_DIR} or --dir to the folder your jobs use")
    if not folder.is_dir():
        raise click.ClickException(f"the debug folder {folder} is not a folder")
    return folder


def job_file(job: str, directory: Path | None) -> Path:
    """The file ``job`` names: a path (it has a path separator or ends in .json), else the job's newest file."""
    if "/" in job or os.sep in job or (os.altsep and os.altsep in job) or job.endswith(".json"):
        path = Path(job)
        if not path.exists():
            raise click.ClickException(f"no such file: {job}")
        if not path.is_file():
            raise click.ClickException(f"{job} is not a file")
        return path
    folder = existing_folder(directory)
    try:
        found = jobfile.newest_for(folder, job)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if found is None:
        raise click.ClickException(f"no job file for job {job!r} in {folder}")
    return found
