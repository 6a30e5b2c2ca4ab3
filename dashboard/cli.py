"""The ``batch-debug`` command line.

Usage::

    batch-debug demo                      # simulator + debug on + a 50-item batch
    batch-debug run-job --server URL --api-key KEY [--job-id ID] ITEM_ID...
    batch-debug enable --minutes 30 | disable | status
    batch-debug summary JOB_ID_OR_FILE [--json | --failed-ids] [--check]
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
from typing import Any

import click

from ..collector import config, health, jobfile, progress, rerun, retention, status_wire
from ..collector import correlate_text
from ..collector.analysis import render_text
from ..collector.redact import RedactingFilter
from ..collector.switch import MAX_MINUTES, MIN_MINUTES, DebugSwitch
from .cli_export import export
from .cli_har import har
from .cli_trace import trace
from .cli_options import DIR_OPTION, debug_folder, existing_folder, job_file
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


#: Job files listed by ``status`` (the dashboard's /status lists as many).
RECENT_FILES = 20


@main.command()
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True,
              help="Print the dashboard's GET /status document (the same keys) instead of text.")
def status(directory: Path | None, as_json: bool) -> None:
    """Show whether debug is on, running jobs and recent job files."""
    # A mistyped --dir is an error; the default folder not made yet is not: the env var may
    # still switch debug on, and that must show.
    folder = (debug_folder(directory) if directory is None else existing_folder(directory)).resolve()
    state = DebugSwitch(folder).state()
    listed = jobfile.job_files(folder)
    files = [info.to_dict() for info in listed[:RECENT_FILES]]
    active = progress.read_active(folder)
    if as_json:
        click.echo(json.dumps(status_wire.encode(
            state, active=active, files=files, files_total=len(listed), debug_dir=str(folder),
            write_errors=health.read_reports(folder, health.WRITE),
            export_errors=health.read_reports(folder, health.EXPORT)), indent=2))
        return
    if state.enabled:
        until = f" until {state.expires_at.isoformat()} ({state.remaining_seconds()} s left)" if state.expires_at else ""
        click.echo(f"debug: ON (source: {state.source}){until}")
    else:
        click.echo("debug: off")
    click.echo(f"folder: {folder}" + ("" if folder.is_dir() else " (does not exist yet: no job has written there)"))
    for job in active:
        total = job.get("items_total") or "?"
        click.echo(f"running: {job['job_id']}  {job['items_done']}/{total} items, "
                   f"{job['requests']} requests, {job['failed_requests']} failed")
    click.echo(f"recent job files: {len(files)}" if files else "no job files yet")
    for info in files:
        click.echo(f"  {info['created_at']}  {info['size_bytes']:>10,} B  {info['filename']}")


# -- job files -----------------------------------------------------------------
def _rerun_ids(path: Path, head: dict[str, Any]) -> list[str]:
    """The failed ids, then the unfinished ones (read from the whole file only when the head counts some)."""
    requests: Any = ()
    if rerun.needs_requests(head):
        try:
            requests = jobfile.load(path).get("requests")
        except jobfile.JobFileError as exc:
            raise click.ClickException(str(exc)) from None
    return rerun.failed_item_ids(head) + rerun.unfinished_item_ids(
        head, requests if isinstance(requests, list) else ())


@main.command()
@click.argument("job", metavar="JOB_ID_OR_FILE")
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--failed-ids", "failed_ids", is_flag=True,
              help="Print only the ids of the failed items, one a line, in item order (to run them again).")
@click.option("--with-unfinished", is_flag=True,
              help="With --failed-ids: add the items that started but never ended (a job stopped mid-way).")
@click.option("--check", is_flag=True,
              help="Exit 0 only for a complete job in which no item failed, else 1 with the reasons on stderr; "
                   "prints nothing else unless --json or --failed-ids is given (for cron and CI).")
@click.option("--correlate", is_flag=True,
              help="Print what the failed attempts have in common instead of the summary: the route, method, "
                   "connection, server, time... values that separate them from successful ones (with --json: "
                   "as JSON).")
def summary(job: str, directory: Path | None, as_json: bool, failed_ids: bool, with_unfinished: bool,
            check: bool, correlate: bool) -> None:
    """Print the summary of a job (its newest file) or of a job file (a path, or a name ending .json)."""
    if as_json and failed_ids:
        raise click.UsageError("--json and --failed-ids print different things; give one")
    if with_unfinished and not failed_ids:
        raise click.UsageError("--with-unfinished goes with --failed-ids")
    if correlate and (failed_ids or check):
        raise click.UsageError("--correlate prints the correlation; it does not go with --failed-ids or --check")
    path = job_file(job, directory)
    if correlate:
        _print_correlation(path, as_json)
        return
    try:
        data = jobfile.load_head(path, items=failed_ids)  # only the ids to run again read the items
    except jobfile.JobFileError as exc:
        raise click.ClickException(str(exc)) from None
    if failed_ids:
        ids = _rerun_ids(path, data) if with_unfinished else rerun.failed_item_ids(data)
        for item_id in ids:
            click.echo(item_id)
    elif as_json:
        click.echo(json.dumps(data["summary"], indent=2))
    elif not check:
        click.echo(render_text(data["summary"]))
        if not data.get("complete", True):
            click.echo("note: the process stopped mid-job; this file holds what was recorded until then.")
        click.echo(f"file: {path}")
    if check:
        reasons = rerun.check(data)
        if reasons:
            click.echo(f"job {data.get('job_id', job)}: " + "; ".join(reasons), err=True)
            sys.exit(1)


def _print_correlation(path: Path, as_json: bool) -> None:
    from .comparing import correlate_file

    try:
        found = correlate_file(path)
    except jobfile.JobFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(found.to_dict(), indent=2) if as_json else correlate_text.render_text(found))


@main.command("compare")
@click.argument("base", metavar="BASE")
@click.argument("head", metavar="HEAD", required=False)
@DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(base: str, head: str | None, directory: Path | None, as_json: bool) -> None:
    """What changed from run BASE (it worked) to run HEAD (it fails).

    Each is a job id (its newest file) or a job file name from the folder. With one
    argument, that run is HEAD and the base is chosen: the previous run of the same job id,
    else of the same id without its run suffix (-20261128, .42), else the newest earlier job
    in which no item failed.
    """
    from .comparing import CompareError, comparison, runs_to_compare
    from ..collector.compare import render_text as render_comparison

    folder = existing_folder(directory)
    head_name, base_name = (base, None) if head is None else (head, base)
    try:
        base_path, head_path, why = runs_to_compare(folder, head_name, base_name)
        found = comparison(base_path, head_path, why)
    except CompareError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        click.echo(f"compared with {found['base']['file']}: {why}")
        click.echo(render_comparison(found))


@main.command()
@click.option("--days", type=int, default=7, show_default=True,
              help="Delete job files older than this many days (0 deletes all).")
@DIR_OPTION
def cleanup(days: int, directory: Path | None) -> None:
    """Delete old job files (never the debug state)."""
    folder = existing_folder(directory)
    try:
        deleted, freed = retention.cleanup(folder, days)
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
    from .server import ServeError, create_server, run

    # The folder goes to this app only: the process's environment is left as it was.
    app = create_app({"DEBUG_DIR": str(directory)} if directory is not None else None)
    try:
        server = create_server(host, port, app=app)  # bound first: a refusal or a busy port is the only line
    except (ServeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"debug folder: {app.config['DEBUG_DIR']}")
    run(server)


for _command in (run_job_command, demo, jellyfin_sim):
    main.add_command(_command)
main.add_command(har)
main.add_command(trace)
main.add_command(export)

if __name__ == "__main__":  # pragma: no cover
    main()
