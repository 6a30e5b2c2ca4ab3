"""The ``batch-debug`` command line.

Usage::

    batch-debug demo                      # simulator + debug on + a 50-item batch
    batch-debug run-job --server URL --api-key KEY [--job-id ID] ITEM_ID...
    batch-debug enable --minutes 30 | disable | status
    batch-debug summary JOB_ID_OR_FILE
    batch-debug cleanup --days 7
    batch-debug serve [--host 127.0.0.1] [--port 8000]
    batch-debug jellyfin-sim --port 8096 --profile mixed

Bad input ends with a one-line ``Error: ...`` and a non-zero exit, never a
traceback. The debug folder is ``APHRODITE_BATCH_DEBUG_DIR`` or ``--dir``.
This module holds the group and the commands that read the folder, flip the
switch or serve the dashboard; those that run a job or the simulator are in
``cli_run``. ``python -m batch_debug.dashboard.cli`` is the same command.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from ..collector import config, jobfile, progress, retention
from ..collector.analysis import render_text
from ..collector.redact import RedactingFilter
from ..collector.switch import MAX_MINUTES, MIN_MINUTES, DebugSwitch
from .cli_options import DIR_OPTION, debug_folder
from .cli_run import demo, jellyfin_sim, run_job_command


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # Keys stay out of every log line, ours and the libraries'.
    handler.addFilter(RedactingFilter(lambda: [os.environ.get(config.JELLYFIN_API_KEY, "")]))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what batch-debug does (INFO).")
@click.version_option(package_name="batch-debug")
def main(verbose: bool) -> None:
    """Per-job debug traces for httpx batch jobs that download Jellyfin posters."""
    _configure_logging(verbose)


# -- the switch ---------------------------------------------------------------
@main.command()
@click.option("--minutes", type=click.IntRange(MIN_MINUTES, MAX_MINUTES), default=30, show_default=True,
              help="How long debug stays on (it turns itself off).")
@DIR_OPTION
def enable(minutes: int, directory: Path | None) -> None:
    """Turn debug on for N minutes, for every process sharing the debug folder."""
    state = DebugSwitch(debug_folder(directory)).enable(minutes)
    click.echo(f"debug enabled until {state.expires_at.isoformat() if state.expires_at else 'process end'}")


@main.command()
@DIR_OPTION
def disable(directory: Path | None) -> None:
    """Turn debug off."""
    state = DebugSwitch(debug_folder(directory)).disable()
    click.echo("debug disabled" if not state.enabled else "debug still on: APHRODITE_BATCH_DEBUG is set here")


@main.command()
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def status(directory: Path | None, as_json: bool) -> None:
    """Show whether debug is on, running jobs and recent job files."""
    folder = debug_folder(directory)
    state = DebugSwitch(folder).state()
    files = [info.to_dict() for info in jobfile.list_job_files(folder)[:20]]
    active = progress.read_active(folder)
    if as_json:
        click.echo(json.dumps({**state.to_dict(), "active_jobs_with_debug": active,
                               "recent_debug_files": files}, indent=2))
        return
    if state.enabled:
        until = f" until {state.expires_at.isoformat()} ({state.remaining_seconds()} s left)" if state.expires_at else ""
        click.echo(f"debug: ON (source: {state.source}){until}")
    else:
        click.echo("debug: off")
    click.echo(f"folder: {folder}")
    for job in active:
        total = job.get("items_total") or "?"
        click.echo(f"running: {job['job_id']}  {job['items_done']}/{total} items, "
                   f"{job['requests']} requests, {job['failed_requests']} failed")
    click.echo(f"recent job files: {len(files)}" if files else "no job files yet")
    for info in files:
        click.echo(f"  {info['created_at']}  {info['size_bytes']:>10,} B  {info['filename']}")


# -- job files -----------------------------------------------------------------
@main.command()
@click.argument("job", metavar="JOB_ID_OR_FILE")
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summary(job: str, directory: Path | None, as_json: bool) -> None:
    """Print the summary of a job (its newest file) or of a job file."""
    path = Path(job)
    if not (job.endswith(".json") and path.is_file()):
        try:
            found = jobfile.newest_for(debug_folder(directory), job)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if found is None:
            raise click.ClickException(f"no job file for job {job!r} in {debug_folder(directory)}")
        path = found
    try:
        data = jobfile.load_head(path)
    except jobfile.JobFileError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(data["summary"], indent=2))
    else:
        click.echo(render_text(data["summary"]))
        if not data.get("complete", True):
            click.echo("note: the process stopped mid-job; this file holds what was recorded until then.")
        click.echo(f"file: {path}")


@main.command()
@click.option("--days", type=int, default=7, show_default=True,
              help="Delete job files older than this many days (0 deletes all).")
@DIR_OPTION
def cleanup(days: int, directory: Path | None) -> None:
    """Delete old job files (never the debug state)."""
    try:
        deleted, freed = retention.cleanup(debug_folder(directory), days)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deleted {deleted} job file(s), freed {freed:,} bytes")


# -- the dashboard ------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; non-loopback needs APHRODITE_BATCH_DEBUG_TOKEN.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on; 0 picks a free one (the real port is printed).")
@DIR_OPTION
def serve(host: str, port: int, directory: Path | None) -> None:
    """Serve the dashboard (API and web page)."""
    from .app import create_app
    from .server import ServeError, serve as run_server

    # The folder goes to this app only: the process's environment is left as it was.
    app = create_app({"DEBUG_DIR": str(directory)} if directory is not None else None)
    click.echo(f"debug folder: {app.config['DEBUG_DIR']}")
    try:
        run_server(host, port, app=app)
    except (ServeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


for _command in (run_job_command, demo, jellyfin_sim):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
