"""``batch-debug export``: replay a recorded job to any OTLP/HTTP receiver.

Usage::

    batch-debug export JOB_ID_OR_FILE --endpoint http://collector:4318 [--protocol http/protobuf|http/json]
                       [--header NAME=VALUE ...] [--timeout 10] [--dir DIR]

The job file's spans (``replay.job_spans``: ids, parents, names, kinds,
attributes, events, status and timestamps as recorded) go out in batches of
:data:`BATCH_SIZE` through ``otlp_send``: OpenTelemetry's OTLP/HTTP exporter
for the protocol, protobuf or JSON, retrying what it retries (429, 502, 503,
504, a dropped connection) within ``--timeout`` per batch. ``--endpoint`` is
a base URL (``/v1/traces`` is added) or the full traces URL. Every request
carries the ``--header`` pairs (say an API key for a hosted backend); no
header value is ever printed. A failure ends with one ``Error:`` line: the
receiver could not be reached (its URL named; a refused connection at once,
not after the timeout), or it answered with an HTTP error (the status, and
the start of its body over protobuf, its reason phrase over JSON); batches
sent before stay sent, and the line says how many spans that was. A progress
bar shows on a terminal only; the last line says ``exported N spans of job X
to URL``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from ..collector import jobfile
from .cli_options import DIR_OPTION, job_file

#: Spans per export request: the SDK's BatchSpanProcessor default.
BATCH_SIZE = 512
#: The same names as ``otlp_send.PROTOCOLS`` (not imported from there: it loads requests and protobuf).
PROTOCOLS = ("http/protobuf", "http/json")
_NOT_IN_HEADER_NAMES = set(':()<>@,;\\"/[]?{}=')


def parse_headers(pairs: Sequence[str]) -> dict[str, str]:
    """``("api-key=abc", ...)`` -> ``{"api-key": "abc"}``; a bad pair is a ``BadParameter`` that names it
    by position and never quotes it (its value may be a credential)."""
    headers: dict[str, str] = {}
    for number, pair in enumerate(pairs, start=1):
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep:
            problem = "has no '='"
        elif not name:
            problem = "has no name before '='"
        elif not name.isascii() or any(c.isspace() or c in _NOT_IN_HEADER_NAMES for c in name):
            problem = "has a name that is not an HTTP header name"
        else:
            headers[name] = value.strip()
            continue
        raise click.BadParameter(f"each --header is NAME=VALUE; header {number} {problem}",
                                 param_hint="'--header'")
    return headers


def _load(path: Path) -> tuple[str, list]:
    # Imported here, as otlp_send below: the decoder (jsonschema, protobuf) and the SDK load only for a
    # command that exports (the CLI imports this module for its help: 0.07 s of every command's start).
    from ..collector.replay import ReplayError, job_spans

    try:
        document = jobfile.load(path)
        return str(document.get("job_id") or path.name), job_spans(document)
    except (jobfile.JobFileError, ReplayError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("export")
@click.argument("job", metavar="JOB_ID_OR_FILE")
@click.option("--endpoint", required=True, metavar="URL",
              help="OTLP/HTTP receiver: a base URL such as http://collector:4318 (/v1/traces is added) "
                   "or the full traces URL.")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="http/protobuf", show_default=True,
              help="OTLP encoding on the wire.")
@click.option("--header", "header_pairs", multiple=True, metavar="NAME=VALUE",
              help="An HTTP header for every request (repeatable), e.g. an API key for a hosted backend.")
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), default=10.0, show_default=True,
              help="Seconds per batch, retries included.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=BATCH_SIZE, show_default=True,
              help="Spans per request: lower it for a receiver with a small request size limit.")
@DIR_OPTION
def export(job: str, endpoint: str, protocol: str, header_pairs: tuple[str, ...], timeout: float,
           batch_size: int, directory: Path | None) -> None:
    """Send a recorded job's spans to an OTLP/HTTP receiver (Jaeger, an OpenTelemetry Collector, a
    backend), trace and span ids and timestamps as recorded."""
    from ..collector.export import traces_endpoint
    from ..collector.replay import batches

    headers = parse_headers(header_pairs)
    url = traces_endpoint(endpoint)
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{endpoint!r} is not an http(s) URL", param_hint="'--endpoint'")
    job_id, spans = _load(job_file(job, directory))
    # Imported here: requests and protobuf load only for a command that sends (cli imports this module).
    from .otlp_send import OtlpSender, SendError

    sent = 0
    # Outside a terminal click would print the label once and nothing else: the last line says it all.
    with OtlpSender(url, protocol, headers, timeout) as sender, click.progressbar(
            length=len(spans), label="spans", file=sys.stderr, show_pos=True,
            hidden=not sys.stderr.isatty()) as bar:
        for batch in batches(spans, batch_size):
            try:
                sender.send(batch)
            except SendError as exc:
                before = f" ({sent} of {len(spans)} spans were sent before)" if sent else ""
                raise click.ClickException(f"{exc}{before}") from None
            sent += len(batch)
            bar.update(len(batch))
    click.echo(f"exported {sent} spans of job {job_id} to {url}")
