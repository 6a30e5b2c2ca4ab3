"""The JSON API under ``/api/v1/batch-debug`` (see DESIGN.md, "API").

Usage::

    curl -X POST localhost:8000/api/v1/batch-debug/enable -d '{"duration_minutes": 30}'
    curl localhost:8000/api/v1/batch-debug/status
    curl localhost:8000/api/v1/batch-debug/job/JOB_ID/summary

Contract: every answer is JSON with a real status (the job's downloads, the
file, its trace and its HAR, are ``api_downloads``; its analyses
``api_analysis``: both under the same prefix and rules);
bad input is a 4xx (400, 413 for a body too big, 422 for a damaged job file),
never a 500. Bodies are read by ``jsonbody.json_body`` (size and depth
bounded, then validated against the schema the OpenAPI document publishes
for the route). Job files are found by the server from a validated job id
(``jobfile.newest_for``); no request names a path, so none can read or delete
outside ``DEBUG_DIR``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.exceptions import TooManyRequests

from ..collector import health, jobfile, progress, rerun, retention, status_wire
from ..collector.switch import DEFAULT_MINUTES, DebugSwitch
from . import joblist, testitem
from .auth import token_required
from .jsonbody import json_body
from .openapi import ATTRIBUTE, build_document, operation, query_param
from .queryargs import query_args

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix=status_wire.API_PREFIX)

SWITCH_EXTENSION = "batch_debug_switch"
TEST_SLOTS_EXTENSION = "batch_debug_test_slots"
RECENT_FILES = 20
MAX_CLEANUP_DAYS = 36500
DEFAULT_CLEANUP_DAYS = 7
JOB_ERRORS = {400: "Error", 404: "Error", 422: "Error"}
RETRY_TEST_AFTER_SECONDS = 5


def _switch() -> DebugSwitch:
    return current_app.extensions[SWITCH_EXTENSION]


def debug_directory() -> Path:
    return Path(current_app.config["DEBUG_DIR"])



@bp.before_request
def refuse_unknown_query_parameters() -> None:
    """Only the query parameters a route documents: ``?dayz=7`` is a mistake, not ``days=7``."""
    view = current_app.view_functions.get(request.endpoint or "")
    meta = getattr(view, ATTRIBUTE, None)
    if meta is None:
        return
    allowed = [p["name"] for p in meta["params"] if p.get("in") == "query"]
    unknown = sorted(name for name in request.args if name not in allowed)
    if unknown:
        hint = f"allowed: {', '.join(allowed)}" if allowed else "this route takes none"
        abort(400, f"Unknown query parameter(s) {', '.join(repr(n[:40]) for n in unknown[:5])}; {hint}.")


def job_path(job_id: str) -> Path:
    try:
        path = jobfile.newest_for(debug_directory(), job_id)
    except ValueError as exc:
        abort(400, str(exc))
    if path is None:
        abort(404, f"No debug file for job {job_id!r}: was debug on while it ran?")
    return path


def load(path: Path, *, head_only: bool = False, items: bool = True) -> dict[str, Any]:
    """The job file (or just its head: all but requests and spans, and items unless asked); 422 if damaged."""
    try:
        return jobfile.load_head(path, items=items) if head_only else jobfile.load(path)
    except jobfile.JobFileError as exc:
        abort(422, str(exc))


@bp.post("/enable")
@operation("Switch debug on for every process sharing the debug folder", body="EnableRequest",
           responses={200: "SwitchState", 400: "Error", 413: "Error"})
def enable() -> Any:
    """Switch debug on for ``duration_minutes`` (1..1440, default 30)."""
    minutes = json_body().get("duration_minutes")
    # Valid means a whole number in range; JSON has one number type, so 30.0 is the integer 30.
    minutes = DEFAULT_MINUTES if minutes is None else int(minutes)
    try:
        state = _switch().enable(minutes)
    except OSError as exc:
        logger.exception("could not write the debug state in %s", debug_directory())
        abort(500, f"Could not write the debug state file in {debug_directory()}: {exc.strerror or exc}.")
    logger.info("debug enabled for %d minutes (until %s)", minutes, state.expires_at)
    return jsonify(state.to_dict())


@bp.post("/disable")
@operation("Switch debug off everywhere", body="DisableRequest",
           responses={200: "SwitchState", 400: "Error", 413: "Error"})
def disable() -> Any:
    """Switch debug off (the env var still wins in processes that set it); the body, if any, is ``{}``."""
    json_body()
    try:
        state = _switch().disable()
    except OSError as exc:
        logger.exception("could not write the debug state in %s", debug_directory())
        abort(500, f"Could not write the debug state file in {debug_directory()}: {exc.strerror or exc}.")
    logger.info("debug disabled")
    return jsonify(state.to_dict())


@bp.get(status_wire.ROUTE)
@operation("Debug state, jobs running with debug, recent job files", responses={200: "Status"})
def status() -> Any:
    """The debug state, live progress of recorded jobs and the newest job files (``status_wire``)."""
    directory = debug_directory()
    files = jobfile.job_files(directory)  # names only: a size is read for the few shown
    # Workers that cannot write to the folder, or whose OTLP receiver is down, report it outside the folder.
    return jsonify(status_wire.encode(
        _switch().state(), active=progress.read_active(directory),
        files=[info.to_dict() for info in files[:RECENT_FILES]], files_total=len(files), debug_dir=str(directory),
        write_errors=health.read_reports(directory, health.WRITE),
        export_errors=health.read_reports(directory, health.EXPORT)))


@bp.get("/jobs")
@operation("Job files, newest first, with headline figures", responses={200: "JobList", 400: "Error"}, params=[
    query_param("page", "Page number, from 1", {"type": "integer", "minimum": 1, "maximum": 10**12 - 1,
                                                "default": 1}),
    query_param("per_page", "Jobs per page", {"type": "integer", "minimum": 1,
                                              "maximum": joblist.MAX_PER_PAGE, "default": 20}),
])
def jobs() -> Any:
    """One page of job files with each job's success rate and counts."""
    args = query_args()
    return jsonify(joblist.list_page(debug_directory(), args["page"], args["per_page"]))


@bp.get("/job/<path:job_id>/summary")
@operation("The summary of a job's newest file", responses={200: "Summary", **JOB_ERRORS})
def job_summary(job_id: str) -> Any:
    """Figures, failure patterns and recommendations of the job."""
    path = job_path(job_id)
    summary = load(path, head_only=True, items=False).get("summary")
    if not isinstance(summary, dict):
        abort(422, f"job file {path.name} has no summary object")
    return jsonify(summary)


@bp.get("/job/<path:job_id>/failed-ids")
@operation("The ids of the job's failed and unfinished items, to run them again",
           responses={200: "FailedIds", **JOB_ERRORS})
def job_failed_ids(job_id: str) -> Any:
    """Failed ids from the file's head; the whole file is read only when some items never ended."""
    path = job_path(job_id)
    head = load(path, head_only=True)
    requests = load(path).get("requests") if rerun.needs_requests(head) else None
    return jsonify({"job_id": job_id, "failed_item_ids": rerun.failed_item_ids(head),
                    "unfinished_item_ids": rerun.unfinished_item_ids(
                        head, requests if isinstance(requests, list) else ())})


@bp.delete("/cleanup")
@operation("Delete job files older than N days (0: all)", responses={200: "CleanupResult", 400: "Error"}, params=[
    query_param("days", "Delete job files older than this many days; 0 deletes them all",
                {"type": "integer", "minimum": 0, "maximum": MAX_CLEANUP_DAYS, "default": DEFAULT_CLEANUP_DAYS}),
])
def cleanup() -> Any:
    """Delete old job files; never the state file or anything else."""
    days: int = query_args()["days"]
    deleted, freed = retention.cleanup(debug_directory(), days)
    logger.info("cleanup (older than %d days): %d files, %d bytes", days, deleted, freed)
    return jsonify({"deleted_files": deleted, "total_size_freed_bytes": freed, "days": days})


@bp.post("/test-item")
@operation("Custom ID Test: run the reference worker on one item and diagnose it", body="TestItemRequest",
           body_required=True, responses={200: "TestItemResult", 400: "Error", 403: "Error", 413: "Error",
                                          429: "Error"})
def test_item() -> Any:
    """Fetch one item's poster as a batch would, and say what went wrong (bounded; see ``testitem``)."""
    body = json_body()  # item_id, and server and api_key if given, match their patterns
    config = current_app.config
    try:
        server, api_key = testitem.choose_target(
            body.get("server"), body.get("api_key"), configured_url=config.get("JELLYFIN_URL") or None,
            configured_key=config.get("JELLYFIN_API_KEY") or None, any_server=token_required(current_app))
    except testitem.TargetRefused as exc:
        abort(exc.status, str(exc))
    slots: testitem.Slots = current_app.extensions[TEST_SLOTS_EXTENSION]
    if not slots.take():
        raise TooManyRequests(f"{config['TEST_ITEM_CONCURRENCY']} Custom ID Test(s) already running; "
                              f"try again in a few seconds.", retry_after=RETRY_TEST_AFTER_SECONDS)
    try:
        result = testitem.diagnose(server, api_key, body["item_id"],
                                   max_body_bytes=config["TEST_ITEM_MAX_BODY_BYTES"],
                                   deadline_seconds=config["TEST_ITEM_DEADLINE_SECONDS"])
    except ValueError as exc:
        abort(400, str(exc))
    finally:
        slots.give_back()
    return jsonify(result)


@bp.get("/openapi.json")
@operation("This OpenAPI document, generated from the registered routes", responses={200: {
    "description": "An OpenAPI 3.1 document", "content": {"application/json": {"schema": {"type": "object"}}}}})
def openapi() -> Any:
    """The OpenAPI document of every route of this app."""
    return jsonify(build_document(current_app))
