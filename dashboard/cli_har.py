"""``batch-debug har``: a recorded job as an HTTP Archive (HAR 1.2).

Usage::

    batch-debug har JOB_ID_OR_FILE                  # the HAR on stdout
    batch-debug har JOB_ID_OR_FILE -o job.har       # into a file
    batch-debug har JOB_ID_OR_FILE --dir DIR        # the job's newest file in another debug folder

The same archive as ``GET /api/v1/batch-debug/job/<id>/har`` (``collector.har``),
redacted as the job file is. ``JOB_ID_OR_FILE`` is read as ``summary`` reads
it: a path (it has a ``/`` or ends in ``.json``), else the job's newest file.
A damaged file ends with a one-line ``Error: ...``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..collector import har as har_format
from ..collector import jobfile
from .cli_options import DIR_OPTION, job_file


@click.command("har")
@click.argument("job", metavar="JOB_ID_OR_FILE")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write the HAR to this file instead of stdout.")
@DIR_OPTION
def har(job: str, output: Path | None, directory: Path | None) -> None:
    """Write a job's HTTP attempts as a HAR 1.2 file (for browser dev tools and HAR tools)."""
    path = job_file(job, directory)
    try:
        archive = har_format.from_job(jobfile.load(path))
    except jobfile.JobFileError as exc:
        raise click.ClickException(str(exc)) from None  # it names the file
    except har_format.HarError as exc:
        raise click.ClickException(f"job file {path.name} is damaged: {exc}") from None
    text = json.dumps(archive, indent=1)
    if output is None:
        click.echo(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"could not write {output}: {exc.strerror or exc}") from None
    click.echo(f"{output}: {len(archive['log']['entries'])} entries (HAR 1.2) from {path.name}", err=True)
