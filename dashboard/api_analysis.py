"""The API's routes that read job files for what they mean: a page of requests, the correlation, a comparison.

Usage: registered by the app factory beside ``api.bp`` (same prefix, same
guard: undocumented query parameters are refused, the token is checked by the
app for every ``/api/`` path)::

    curl "$B/job/JOB_ID/requests?limit=100"   # the head and the first records (the page's timeline)
    curl $B/job/JOB_ID/correlate              # what the failed attempts have in common
    curl "$B/compare?head=JOB_ID"             # what changed since the previous run

Each reads as little of a file as it can: the first records, the requests
one at a time, or two file heads.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify

from ..collector import jobfile, jobstream, status_wire
from . import comparing
from .api import JOB_ERRORS, debug_directory, job_path, refuse_unknown_query_parameters
from .openapi import operation, query_param
from .queryargs import query_args

bp = Blueprint("api_analysis", __name__, url_prefix=status_wire.API_PREFIX)
bp.before_request(refuse_unknown_query_parameters)


#: A run: a job id (as validate_job_id takes it) or a job file's name (jobfile.FILE_RE).
_RUN_SCHEMA = {"type": "string",
               "pattern": rf"^(?!.*\.\.)(?:{jobfile.JOB_ID_PATTERN}|job_{jobfile.JOB_ID_PATTERN}_[0-9]{{8}}_[0-9]{{6}}\.json)$",
               "x-expected": "a job id (1 to 128 of A-Z a-z 0-9 . _ -, no '..') or a job file name "
                             "(job_<id>_<YYYYmmdd_HHMMSS>.json)"}


@bp.get("/compare")
@operation("Two runs side by side: what changed from base to head (collector/compare.py)",
           responses={200: "Comparison", 400: "Error", 404: "Error", 422: "Error"}, params=[
               query_param("head", "The run that fails: a job id (its newest file) or a job file name",
                           _RUN_SCHEMA, required=True),
               query_param("base", "The run to compare with; default: the previous run of the same job id, else "
                                   "of the same id without its run suffix, else the newest earlier job in which "
                                   "no item failed", _RUN_SCHEMA)])
def compare_jobs() -> Any:
    """Rates, status mix, findings, latency, server, connections and flipped items; read from the heads only."""
    args = query_args()
    try:
        base, head, why = comparing.runs_to_compare(debug_directory(), args["head"], args.get("base"))
        return jsonify(comparing.comparison(base, head, why))
    except comparing.CompareError as exc:
        abort(exc.status, str(exc))


#: Most request records one /requests answer carries (the page's timeline shows 1,500).
MAX_REQUESTS_PAGE = 5000


@bp.get("/job/<path:job_id>/requests")
@operation("The job's first request records and the head's life and environment, read without the rest of "
           "the file (what the page draws its timeline from)", responses={200: "RequestPage", **JOB_ERRORS},
           params=[query_param("limit", "Most request records to return, in the file's order",
                               {"type": "integer", "minimum": 1, "maximum": MAX_REQUESTS_PAGE, "default": 1500})])
def job_requests(job_id: str) -> Any:
    """``requests`` (the first ``limit``), ``requests_total`` and ``truncated``; a 1M-request file costs
    what its head and first records cost, not 1.8 GB (the page used to download the full log)."""
    path = job_path(job_id)
    try:
        head, records, truncated = jobstream.first_requests(path, query_args()["limit"], items=False)
    except jobfile.JobFileError as exc:
        abort(422, str(exc))
    found = head.get("summary")
    summary: dict[str, Any] = found if isinstance(found, dict) else {}
    return jsonify({"job_id": head.get("job_id", job_id), "complete": head.get("complete"),
                    "job_error": head.get("job_error"), "environment": head.get("environment") or {},
                    "requests_total": summary.get("total_requests"), "truncated": truncated,
                    "requests": records})


@bp.get("/job/<path:job_id>/correlate")
@operation("What the job's failed attempts have in common: the dimension values that separate them from "
           "successful ones (collector/correlate.py)", responses={200: "Correlation", **JOB_ERRORS})
def job_correlate(job_id: str) -> Any:
    """Shares per dimension value among failures and successes, with the test's verdict; 422 if damaged.
    The requests are read one at a time (a 1M-request file is never held whole)."""
    path = job_path(job_id)
    try:
        found = comparing.correlate_file(path)
    except jobfile.JobFileError as exc:
        abort(422, str(exc))
    return jsonify(found.to_dict())
