"""The ``batch-debug`` commands that run things: a job, the demo, the Jellyfin simulator.

Usage (registered on the ``batch-debug`` group by ``cli``)::

    batch-debug run-job --server URL --api-key KEY [--job-id ID] ITEM_ID...
    batch-debug demo [--items 50] [--profile mixed]
    batch-debug jellyfin-sim --port 8096 --profile mixed

They start the reference worker (and the instrumentation) or the simulator;
the commands that only read job files or flip the switch live in ``cli``.
The worker and the simulator are imported inside the commands, so
``batch-debug status`` never pays for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from ..collector import config, jobfile
from ..collector.analysis import render_text
from ..collector.switch import DebugSwitch
from ..jellyfin.profiles import PROFILES
from .cli_options import DIR_OPTION, debug_folder


def _preflight(server: str) -> None:
    """One clear error for a server that cannot be reached, before any job starts."""
    import httpx
    from opentelemetry.instrumentation.utils import suppress_http_instrumentation

    try:
        with suppress_http_instrumentation():
            httpx.get(server.rstrip("/") + "/System/Info/Public", timeout=5.0)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach Jellyfin at {server}: {type(exc).__name__}: {exc}") from None


#: The HTTP clients the reference worker can run on (``--client``), and the extra each needs.
CLIENTS = ("httpx", "httpx-async", "aiohttp", "requests")
_EXTRA = {"aiohttp": "aiohttp", "requests": "requests"}


def _runner(client: str) -> Any:
    """The worker's run function for ``client``: sync ones return the result, async ones a coroutine.
    A clear error when the client's extra is not installed."""
    from ..instrumentation.clients import instrumented_clients

    if client in _EXTRA and client not in instrumented_clients():
        raise click.ClickException(
            f"--client {client} needs {client} and its OpenTelemetry instrumentation: "
            f"pip install 'batch-debug[{_EXTRA[client]}]'")
    if client == "httpx-async":
        from ..jellyfin.worker_async import run_job_async
        return run_job_async
    if client == "aiohttp":
        from ..jellyfin.worker_aiohttp import run_job_aiohttp
        return run_job_aiohttp
    if client == "requests":
        from ..jellyfin.worker_requests import run_job_requests
        return run_job_requests
    from ..jellyfin.worker import run_job
    return run_job


def _run(worker_config: Any, item_ids: list[str], job_id: str | None, client: str, quiet: bool) -> Any:
    run = _runner(client)

    # Outside a terminal click would print the label alone, once: a log gets the job's line from _report instead.
    hidden = quiet or not sys.stderr.isatty()
    with click.progressbar(length=len(item_ids), label="posters", file=sys.stderr,
                           show_pos=True, hidden=hidden) as bar:
        def advance(_: Any) -> None:
            bar.update(1)

        result = run(worker_config, item_ids, job_id, progress=advance)
        return asyncio.run(result) if asyncio.iscoroutine(result) else result


def _report(result: Any, debug_on: bool, directory: Path | None = None) -> None:
    click.echo(f"job {result.job_id}: {result.succeeded}/{len(result.items)} items succeeded, "
               f"{result.requests} requests, {result.duration_seconds:.1f} s")
    for item in result.items:
        if not item.ok:
            click.echo(f"  failed {item.item_id}: {item.error}")
    if result.job_file is not None:
        click.echo(f"debug file: {result.job_file}")
    elif debug_on:
        click.echo("debug is on but no job file was written; see the log above", err=True)
    else:
        where = f" --dir {shlex.quote(str(directory))}" if directory is not None else ""
        click.echo(f"debug is off, so no job file was written. To record the next run: "
                   f"{_command_prefix()} enable --minutes 30{where} (or set {config.APHRODITE_BATCH_DEBUG}=true "
                   f"for one process), then run the job again.", err=True)


NO_WAIT_OPTION = click.option(
    "--no-wait", is_flag=True,
    help="No pause between requests, no backoff between tries and no Retry-After wait: "
         "a quick rerun against a test server (the tests use it).")


def _without_waits(worker_config: Any, no_wait: bool) -> Any:
    """The config with every deliberate wait set to zero when ``--no-wait`` was given."""
    if not no_wait:
        return worker_config
    return dataclasses.replace(worker_config, min_interval=0.0, backoff=(0.0,), max_retry_after=0.0)


@click.command("run-job")
@click.option("--server", envvar=config.JELLYFIN_URL, required=True, help="Jellyfin URL [env: JELLYFIN_URL].")
@click.option("--api-key", envvar=config.JELLYFIN_API_KEY, required=True,
              help="Jellyfin API key [env: JELLYFIN_API_KEY].")
@click.option("--job-id", default=None, help="Job id (default: a new one).")
@click.option("--user-id", default=None, help="Look items up under /Users/{id}/Items.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--min-interval", type=click.FloatRange(0, 60), default=0.1, show_default=True,
              help="Seconds between requests.")
@click.option("--max-attempts", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
              help="Seconds the client waits to connect and between bytes of an answer.")
@click.option("--session-strategy", type=click.Choice(["shared", "per-request"]), default="shared",
              show_default=True)
@click.option("--auth", type=click.Choice(["header", "query", "legacy-header", "legacy-query"]),
              default="header", show_default=True, help="How the API key is sent.")
@click.option("--client", type=click.Choice(CLIENTS), default="httpx", show_default=True,
              help="HTTP client: httpx (threads), httpx-async (AsyncClient, asyncio tasks), aiohttp "
                   "(ClientSession, tasks) or requests (Session, threads); aiohttp and requests need "
                   "the batch-debug[aiohttp] / [requests] extra.")
@click.option("--async", "use_async", is_flag=True, help="Same as --client httpx-async.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Save downloaded posters here.")
@DIR_OPTION
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@NO_WAIT_OPTION
@click.argument("item_ids", nargs=-1, required=True)
def run_job_command(server: str, api_key: str, job_id: str | None, user_id: str | None, concurrency: int,
                    min_interval: float, max_attempts: int, timeout: float, session_strategy: str, auth: str,
                    client: str, use_async: bool, output_dir: Path | None, directory: Path | None, quiet: bool,
                    no_wait: bool, item_ids: tuple[str, ...]) -> None:
    """Run the reference poster worker on ITEM_ID... (exit 1 if any item failed)."""
    from ..instrumentation import setup
    from ..jellyfin.worker import WorkerConfig

    if use_async:
        if client not in ("httpx", "httpx-async"):
            raise click.BadParameter(f"--async means --client httpx-async, not {client}", param_hint="--async")
        client = "httpx-async"
    if job_id is not None:
        try:
            jobfile.validate_job_id(job_id)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--job-id") from None
    try:
        worker_config = WorkerConfig(server=server, api_key=api_key, user_id=user_id, concurrency=concurrency,
                                     min_interval=min_interval, max_attempts=max_attempts, timeout=timeout,
                                     session_strategy=session_strategy, auth=auth, output_dir=output_dir)
        worker_config = _without_waits(worker_config, no_wait)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _preflight(server)
    pipeline = setup(debug_folder(directory))
    pipeline.add_secret(api_key)
    result = _run(worker_config, list(item_ids), job_id, client, quiet)
    _report(result, pipeline.switch.is_on(), directory)
    if result.failed:
        sys.exit(1)


@click.command()
@click.option("--items", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--profile", type=click.Choice(PROFILES), default="mixed", show_default=True,
              help="Failure shape of the bundled Jellyfin simulator (see jellyfin-sim -h).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@DIR_OPTION
@NO_WAIT_OPTION
def demo(items: int, profile: str, seed: int, concurrency: int, directory: Path | None, no_wait: bool) -> None:
    """Run a batch against the bundled Jellyfin simulator with debug on, then print its summary."""
    from ..instrumentation import setup
    from ..jellyfin.simulator import JellyfinSimulator
    from ..jellyfin.worker import WorkerConfig

    folder = debug_folder(directory)
    # Debug on for this process only: the demo must not switch other processes.
    switch = DebugSwitch(folder, environ={config.APHRODITE_BATCH_DEBUG: "true"})
    pipeline = setup(folder, switch=switch)
    with JellyfinSimulator(profile=profile, seed=seed, api_key="demo-api-key") as sim:
        click.echo(f"Jellyfin simulator ({profile}) at {sim.url}; debug on; {items} items, "
                   f"{concurrency} workers")
        pipeline.add_secret(sim.api_key)
        worker_config = _without_waits(WorkerConfig(server=sim.url, api_key=sim.api_key, concurrency=concurrency,
                                                    min_interval=0.02), no_wait)
        result = _run(worker_config, sim.demo_item_ids(items, seed=seed), None, "httpx", False)
        served = sim.stats()["total"]
    if result.job_file is None:
        raise click.ClickException("the demo job wrote no job file; see the log above")
    data = jobfile.load(result.job_file)
    click.echo(render_text(data["summary"]))
    click.echo(f"simulator served {served} requests (the job's plus one server-info probe)")
    click.echo(f"job file: {result.job_file}")
    for line in next_steps(result.job_id, folder):
        click.echo(line)


def _command_prefix() -> str:
    """How to type ``batch-debug`` in a fresh shell: the bare name when PATH finds this one, else its path.

    The path is relative when the script lies under the current folder (``.venv/bin/batch-debug``).
    """
    scripts = Path(sys.executable).parent  # the venv's bin folder, not resolved through the python link
    script = scripts / "batch-debug"
    if not script.is_file():
        return f"{shlex.quote(_shown(Path(sys.executable)))} -m batch_debug.dashboard.cli"
    on_path = shutil.which("batch-debug")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "batch-debug"
    return shlex.quote(_shown(script))


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when inside it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def next_steps(job_id: str, folder: Path) -> list[str]:
    """What to type next, as it works in a fresh shell in this folder (the demo's last lines).

    ``folder``: the demo's debug folder; named with ``--dir`` unless it is the
    default one (a fresh shell has no ``APHRODITE_BATCH_DEBUG_DIR``).
    """
    command = _command_prefix()
    default = os.path.abspath(config.DEFAULT_DEBUG_DIR) == os.path.abspath(folder)
    where = "" if default else f" --dir {shlex.quote(_shown(folder))}"
    lines = ["next:", f"  {command} summary {job_id}{where}  # this summary again",
             f"  {command} summary {job_id}{where} --failed-ids  # the ids to run again",
             f"  {command} serve{where}  # the dashboard, on http://127.0.0.1:8000/"]
    activate = Path(sys.executable).parent / "activate"
    if command != "batch-debug" and activate.is_file():
        lines.append(f"  ({command} is not on PATH here: type it as shown, or first "
                     f"source {shlex.quote(_shown(activate))} to type batch-debug alone)")
    elif command != "batch-debug":
        lines.append(f"  ({command} is not on PATH here: type it as shown)")
    if default and _has_dashboard_target(Path("Makefile")):
        lines.append("  make dashboard  # the same dashboard, on the demo's folder")
    return lines


def _has_dashboard_target(makefile: Path) -> bool:
    try:
        return any(line.startswith("dashboard:") for line in makefile.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return False


@click.command("jellyfin-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8096, show_default=True)
@click.option("--profile", type=click.Choice(PROFILES), default="healthy", show_default=True,
              help="What the simulator does wrong (README: the simulator's profiles).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--api-key", default="sim-api-key", show_default=True)
def jellyfin_sim(host: str, port: int, profile: str, seed: int, api_key: str) -> None:
    """Run the Jellyfin simulator until Ctrl-C."""
    from ..jellyfin.simulator import JellyfinSimulator

    try:
        sim = JellyfinSimulator(profile=profile, seed=seed, api_key=api_key, host=host, port=port)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        sim.bind()  # before the banner: a busy port is the only line printed
    except OSError as exc:
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc.strerror or exc}"
        raise click.ClickException(f"port {port} on {host} {reason}; choose another with --port "
                                   f"(0 picks a free one)") from None
    click.echo(f"Jellyfin simulator ({profile}) on {sim.url}; API key {api_key!r}; Ctrl-C stops")
    click.echo("known item ids: " + " ".join(sim.item_ids[:3]))
    click.echo("demo mix (some fail on purpose): " + " ".join(sim.demo_item_ids(5, seed=seed)))
    try:
        sim.serve_forever()
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None
