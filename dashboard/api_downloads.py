"""The job's downloads under ``/api/v1/batch-debug/job/<id>/``: the whole file, its trace, its HAR.

Usage: registered by the app factory beside ``api.bp`` (same prefix, same
rules: validated job ids, JSON errors, only documented query parameters)::

    curl -OJ localhost:8000/api/v1/batch-debug/job/JOB_ID/full-log     # the job file as written
    curl -OJ localhost:8000/api/v1/batch-debug/job/JOB_ID/trace        # its spans: OTLP/JSON, or protobuf
    curl -OJ localhost:8000/api/v1/batch-debug/job/JOB_ID/har          # its attempts as an HTTP Archive

Contract: each is an attachment; a damaged file is a 422, a job without a
file a 404. The full log is sent from the descriptor that was checked
(``sendfile``), never through a link. The trace gives each request span its
record back from the file's ``requests`` (``span_records``): what a viewer
or another sidecar gets is the span as it was recorded.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, request

from ..collector import har, jobfile, otlp_proto, span_records, status_wire
from . import sendfile
from .api import JOB_ERRORS, debug_directory, job_path, load, refuse_unknown_query_parameters
from .openapi import operation, query_param
from .queryargs import query_args

bp = Blueprint("api_downloads", __name__, url_prefix=status_wire.API_PREFIX)
bp.before_request(refuse_unknown_query_parameters)

#: ``?format=`` of ``/job/<id>/trace``: its media type, and the download's file suffix.
TRACE_FORMATS = {"json": otlp_proto.JSON, "protobuf": otlp_proto.PROTOBUF}
_SUFFIX = {"json": "json", "protobuf": "pb"}
_PROTOBUF_TRACE = {"schema": {"type": "string", "format": "binary", "description": (
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest, binary protobuf")}}


@bp.get("/job/<path:job_id>/full-log")
@operation("The job's newest file as a download", download="JobDocument", responses=JOB_ERRORS)
def job_full_log(job_id: str) -> Any:
    """The whole job file, as written, as an attachment; 422 if it is damaged."""
    path = job_path(job_id)
    try:
        job = sendfile.open_job_file(debug_directory(), path)
    except OSError:
        # Removed, or replaced by a link or something else since it was listed: never followed.
        abort(404, f"The debug file of job {job_id!r} was removed or replaced while it was being sent.")
    try:
        sendfile.check_job_document(job)
    except jobfile.JobFileError as exc:
        job.file.close()
        abort(422, str(exc))
    return sendfile.send_job_file(job)


@bp.get("/job/<path:job_id>/trace")
@operation("The job's spans as OTLP JSON or protobuf (for Jaeger or any OTLP viewer or backend)",
           download="OtlpTrace", download_types={otlp_proto.PROTOBUF: _PROTOBUF_TRACE}, responses=JOB_ERRORS,
           params=[query_param("format", "json or protobuf (an ExportTraceServiceRequest); default: by the Accept "
                               "header, JSON unless it prefers application/x-protobuf",
                               {"type": "string", "enum": list(TRACE_FORMATS)})])
def job_trace(job_id: str) -> Any:
    """Only ``resourceSpans``: OTLP/JSON by default, protobuf when asked for (see ``_trace_format``)."""
    fmt = _trace_format()
    data = load(job_path(job_id))
    try:
        spans = span_records.trace_of(data)  # a viewer gets each span whole
    except ValueError as exc:
        abort(422, f"the debug file of job {job_id!r} {exc}")
    if fmt == "json":
        body: str | bytes = otlp_proto.otlp_json(spans)
    else:
        try:
            body = otlp_proto.to_protobuf(spans)
        except otlp_proto.OtlpDecodeError as exc:
            abort(422, f"the debug file of job {job_id!r} holds spans that are not valid OTLP: {exc}")
    response = Response(body, mimetype=TRACE_FORMATS[fmt],
                        headers={"Content-Disposition": f'attachment; filename="job_{job_id}_trace.{_SUFFIX[fmt]}"'})
    response.vary.add("Accept")  # one URL, two bodies: caches must key on Accept
    return response


def _trace_format() -> str:
    """``?format=`` when given; else protobuf only if Accept prefers it to JSON.

    Why JSON otherwise, never a 406: a browser following the link sends
    ``text/html, ..., */*`` and should get the file it always got.
    """
    asked: str | None = query_args().get("format")
    if asked is not None:
        return asked
    best = request.accept_mimetypes.best_match([otlp_proto.JSON, otlp_proto.PROTOBUF], default=otlp_proto.JSON)
    return "protobuf" if best == otlp_proto.PROTOBUF else "json"


@bp.get("/job/<path:job_id>/har")
@operation("The job's request attempts as an HTTP Archive (HAR 1.2, for browser dev tools and HAR tools)",
           download="Har", responses=JOB_ERRORS)
def job_har(job_id: str) -> Any:
    """One HAR entry per attempt, redacted as the job file is (``collector.har``); 422 if damaged."""
    path = job_path(job_id)
    try:
        archive = har.from_job(load(path))
    except har.HarError as exc:
        abort(422, f"job file {path.name} is damaged: {exc}")
    return Response(
        json.dumps(archive, separators=(",", ":")),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="job_{job_id}.har"'},
    )
