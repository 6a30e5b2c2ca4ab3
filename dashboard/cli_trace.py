"""``batch-debug trace``: a recorded job's spans, each whole, as OTLP/JSON or protobuf.

Usage::

    batch-debug trace JOB_ID_OR_FILE                        # OTLP/JSON on stdout
    batch-debug trace JOB_ID_OR_FILE -o trace.json          # into a file (Jaeger: Search, Upload JSON)
    batch-debug trace JOB_ID_OR_FILE -f protobuf -o t.pb    # an ExportTraceServiceRequest, a /v1/traces body

The same spans as ``GET /api/v1/batch-debug/job/<id>/trace`` (``span_records.trace_of``): a job file's
request spans leave out what their ``requests`` entries hold (format 3 and 4), and get it back here.
``JOB_ID_OR_FILE`` is read as ``summary`` reads it. Protobuf is binary: it goes to a file, or to stdout
only when stdout is not a terminal. A damaged file ends with a one-line ``Error: ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..collector import jobfile, span_records
from .cli_options import DIR_OPTION, job_file


@click.command("trace")
@click.argument("job", metavar="JOB_ID_OR_FILE")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write the trace to this file instead of stdout.")
@click.option("-f", "--format", "fmt", type=click.Choice(["json", "protobuf"]), default="json", show_default=True,
              help="OTLP/JSON (Jaeger's Upload JSON, any OTLP/JSON reader) or protobuf (an ExportTraceServiceRequest: "
                   "a ready /v1/traces body).")
@DIR_OPTION
def trace(job: str, output: Path | None, fmt: str, directory: Path | None) -> None:
    """Write a job's spans, each whole, for Jaeger or any OTLP viewer or backend."""
    # Imported here: the decoder (jsonschema, protobuf) loads only for this command, not for every one.
    from ..collector import otlp_proto

    path = job_file(job, directory)
    try:
        spans = span_records.trace_of(jobfile.load(path))
        body = otlp_proto.otlp_json(spans).encode("utf-8") if fmt == "json" else otlp_proto.to_protobuf(spans)
    except jobfile.JobFileError as exc:
        raise click.ClickException(str(exc)) from None  # it names the file
    except (ValueError, otlp_proto.OtlpDecodeError) as exc:
        raise click.ClickException(f"job file {path.name} {_damage(exc)}") from None
    if output is None:
        if fmt == "protobuf" and sys.stdout.isatty():
            raise click.ClickException("protobuf is binary: give -o FILE, or send stdout to a file or a pipe")
        click.echo(body, nl=fmt == "json")  # bytes go to the binary stream as they are
        return
    try:
        output.write_bytes(body)
    except OSError as exc:
        raise click.ClickException(f"could not write {output}: {exc.strerror or exc}") from None
    click.echo(f"{output}: {sum(1 for _ in span_records.spans_of(spans))} spans (OTLP {fmt}) from {path.name}",
               err=True)


def _damage(exc: Exception) -> str:
    text = str(exc)
    return text if text.startswith("holds") else f"holds spans that are not valid OTLP: {text}"
