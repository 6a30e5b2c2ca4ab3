"""JSON Schemas of the API's bodies: the OpenAPI document's, and the request validators.

Data only: ``openapi.py`` puts them under ``components/schemas`` and the views
name them in their ``@operation`` metadata. A request schema is also what
``jsonbody`` validates the body with (JSON Schema 2020-12, the dialect of
OpenAPI 3.1), so the document cannot promise one thing and the API check
another. Keep response schemas in step with what the views return;
``tests/dashboard`` checks real answers against them.

``x-expected`` (an OpenAPI extension; JSON Schema ignores it) is how a field's
rule reads in an error message, where the rule itself does not say it
plainly (a pattern): "item_id must be <x-expected>".
"""

from __future__ import annotations

from typing import Any

from ..collector.jobfile import JOB_ID_PATTERN
from ..collector.switch import MAX_MINUTES, MIN_MINUTES, DEFAULT_MINUTES

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_TIME = {"type": "string", "format": "date-time"}
_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_NULL_INT = {"type": ["integer", "null"]}
_NULL_NUM = {"type": ["number", "null"]}


#: A Jellyfin item id as /test-item takes it (a real one is 32 hex characters).
ITEM_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
ITEM_ID_EXPECTED = "a string of 1 to 128 of the characters A-Z a-z 0-9 _ - (a Jellyfin id is 32 hex characters)"

#: The servers /test-item may be pointed at: an absolute http(s) URL with a plain host.
HTTP_URL_PATTERN = r"^https?://[A-Za-z0-9.\-]+(?::\d{1,5})?(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/\-]*)?$"


#: What an API key may hold: visible ASCII (it travels in an HTTP header).
API_KEY_PATTERN = r"^[!-~]{1,256}$"


def _obj(required: tuple[str, ...], extra: bool = False, **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": props, "additionalProperties": extra}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_SWITCH: dict[str, Any] = {
    "enabled": {"type": "boolean"},
    "source": {"type": ["string", "null"], "enum": ["env", "api", None]},
    "expires_at": _NULL_TIME,
    "remaining_seconds": _NULL_INT,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj(("error",), error=_obj(("status", "message"), status=_INT, message=_STR)),
    "Health": _obj(("status",), status={"type": "string", "enum": ["ok"]}),
    "EnableRequest": _obj((), duration_minutes={
        "type": ["integer", "null"], "minimum": MIN_MINUTES, "maximum": MAX_MINUTES, "default": DEFAULT_MINUTES,
        "description": "minutes until debug turns itself off; null or absent means the default"}),
    "DisableRequest": {**_obj(()), "description": "No fields: an empty body or {}"},
    "SwitchState": _obj(("enabled", "source", "expires_at", "remaining_seconds"), **_SWITCH),
    "ActiveJob": _obj(("job_id",), True, job_id=_STR, pid=_INT, started_at=_TIME, updated_at=_TIME,
                      items_total=_NULL_INT, items_done=_INT, items_failed=_INT, requests=_INT,
                      failed_requests=_INT),
    "JobFile": _obj(("filename", "job_id", "created_at", "size_bytes"), filename=_STR,
                    job_id={"type": "string", "pattern": f"^{JOB_ID_PATTERN}$"}, created_at=_TIME,
                    size_bytes=_INT),
    "Status": _obj(
        ("debug_enabled", "source", "expires_at", "remaining_seconds", "active_jobs_with_debug",
         "recent_debug_files", "debug_dir"),
        debug_enabled={"type": "boolean"}, source=_SWITCH["source"], expires_at=_NULL_TIME,
        remaining_seconds=_NULL_INT, active_jobs_with_debug={"type": "array", "items": ref("ActiveJob")},
        recent_debug_files={"type": "array", "items": ref("JobFile"), "maxItems": 20},
        debug_files_total=_INT, debug_dir=_STR,
        write_errors={"type": "array", "items": ref("FailureReport")},
        export_errors={"type": "array", "items": ref("FailureReport")}),
    "FailureReport": _obj(("pid", "count", "failing", "last_error"), True, pid=_INT, count=_INT,
                          failing={"type": "boolean"}, last_error={"type": ["string", "null"]},
                          updated_at=_NULL_TIME),
    "Summary": _obj(
        ("job_id", "total_requests", "successful_requests", "failed_requests", "success_rate_percent",
         "status_code_breakdown", "items_total", "items_succeeded", "items_failed", "failure_patterns",
         "recommendations"), True,
        job_id=_STR, debug_enabled={"type": "boolean"}, duration_seconds=_NUM, total_requests=_INT,
        successful_requests=_INT, failed_requests=_INT, success_rate_percent=_NULL_NUM,
        status_code_breakdown={"type": "object", "additionalProperties": _INT}, items_total=_INT,
        items_succeeded=_INT, items_failed=_INT, failure_patterns={"type": "array", "items": {"type": "object"}},
        recommendations={"type": "array", "items": _STR}, findings={"type": "array", "items": ref("Finding")},
        complete={"type": "boolean"}, items_started=_INT, items_unfinished=_INT, items_not_started=_INT,
        job_error={"type": ["object", "null"]}),
    "Finding": _obj(("id", "cause", "evidence", "confidence", "action"),
                    id={"type": "string", "pattern": "^[a-z_]+$"}, cause=_STR, action=_STR,
                    confidence={"enum": ["high", "medium", "low"]}, evidence={"type": "object"}),
    "JobHeadline": _obj(
        ("filename", "job_id", "created_at", "size_bytes", "complete", "total_requests", "failed_requests",
         "success_rate_percent", "items_total", "items_failed"),
        filename=_STR, job_id=_STR, created_at=_TIME, size_bytes=_INT, complete={"type": ["boolean", "null"]},
        total_requests=_NULL_INT, failed_requests=_NULL_INT, success_rate_percent=_NULL_NUM,
        items_total=_NULL_INT, items_failed=_NULL_INT, error={"type": "string"},
        items_succeeded=_NULL_INT, item_success_rate_percent=_NULL_NUM),
    "JobList": _obj(("jobs", "page", "per_page", "total", "pages"),
                    jobs={"type": "array", "items": ref("JobHeadline")}, page=_INT, per_page=_INT,
                    total=_INT, pages=_INT),
    "JobDocument": _obj(("job_id", "complete", "generated_at", "summary", "environment", "requests",
                         "resourceSpans"), True,
                        job_id=_STR, complete={"type": "boolean"}, generated_at=_TIME, summary=ref("Summary"),
                        environment={"type": "object"}, requests={"type": "array", "items": {"type": "object"}},
                        resourceSpans={"type": "array", "items": {"type": "object"}}),
    "FailedIds": {**_obj(("job_id", "failed_item_ids", "unfinished_item_ids"), job_id=_STR,
                         failed_item_ids={"type": "array", "items": _STR},
                         unfinished_item_ids={"type": "array", "items": _STR}),
                  "description": "The items to run again, in the job's item order (collector/rerun.py): "
                                 "failed_item_ids holds one id per failed item (as many as summary.items_failed); "
                                 "unfinished_item_ids the items that made requests but never ended."},
    "OtlpTrace": _obj(("resourceSpans",), resourceSpans={"type": "array", "items": {"type": "object"}}),
    "Har": {**_obj(("log",), log=_obj(
        ("version", "creator", "entries"), True, version={"type": "string", "const": "1.2"},
        creator=_obj(("name", "version"), True, name=_STR, version=_STR),
        pages={"type": "array", "items": {"type": "object"}}, entries={"type": "array", "items": {"type": "object"}})),
        "description": "An HTTP Archive (HAR 1.2; collector/har.py): one entry per request attempt, redacted."},
    "RequestPage": {**_obj(
        ("job_id", "complete", "job_error", "environment", "requests_total", "truncated", "requests"),
        job_id=_STR, complete={"type": ["boolean", "null"]}, job_error={"type": ["object", "null"]},
        environment={"type": "object"}, requests_total=_NULL_INT, truncated={"type": "boolean"},
        requests={"type": "array", "items": {"type": "object"}}),
        "description": "The job file's first request records (as in its requests list) with what the page "
                       "shows beside them; truncated says whether more follow, requests_total how many the "
                       "summary counts."},
    "Comparison": {**_obj(
        ("base_chosen_because", "base", "head", "items", "requests", "status_mix", "findings", "failure_patterns",
         "latency_ms", "server", "connections", "flipped", "changes"), True,
        base_chosen_because=_STR, base={"type": "object"}, head={"type": "object"}, items={"type": "object"},
        requests={"type": "object"}, status_mix={"type": "array", "items": {"type": "object"}},
        findings={"type": "object"}, failure_patterns={"type": "object"}, latency_ms={"type": "object"},
        server={"type": "object"}, connections={"type": "object"}, flipped={"type": "object"},
        changes={"type": "array", "items": _STR}),
        "description": "What changed from base to head (collector/compare.py), read from the two job files' "
                       "heads: success rates, status mix, findings and failure patterns that appeared or "
                       "disappeared, latency, the answering server, connections, items that flipped; "
                       "changes: one sentence per notable change."},
    "Correlation": {**_obj(
        ("failed_attempts", "succeeded_attempts", "values_tested", "alpha", "verdict", "standing_out", "dimensions"),
        failed_attempts=_INT, succeeded_attempts=_INT, values_tested=_INT, alpha={"type": "number"},
        min_failures=_INT, min_lift={"type": "number"}, verdict=_STR,
        standing_out={"type": "array", "items": {"type": "object"}},
        dimensions={"type": "array", "items": {"type": "object"}}),
        "description": "Which dimension values (route, method, attempt, connection, HTTP version, server, time, "
                       "thread, size, item attributes) separate failed attempts from successful ones: a value "
                       "stands out with >= min_failures failures, a lift >= min_lift and a one-sided Fisher "
                       "p below alpha after a Bonferroni correction over values_tested."},
    "CleanupResult": _obj(("deleted_files", "total_size_freed_bytes", "days"),
                          deleted_files=_INT, total_size_freed_bytes=_INT, days=_INT),
    "TestItemRequest": {
        **_obj(("item_id",), item_id={"type": "string", "pattern": ITEM_ID_PATTERN, "x-expected": ITEM_ID_EXPECTED},
               server={"type": "string", "pattern": HTTP_URL_PATTERN,
                       "x-expected": "an http:// or https:// URL such as http://jellyfin:8096", "description": (
                   "The Jellyfin to test against; default: the configured JELLYFIN_URL. Without an API token on "
                   "the dashboard only the configured server is allowed (another one is a 403); with a token, "
                   "any http(s) URL.")},
               api_key={"type": "string", "pattern": API_KEY_PATTERN,
                        "x-expected": "a string of 1 to 256 visible ASCII characters", "description": (
                   "The key to send; default: the configured JELLYFIN_API_KEY, which is sent only to the "
                   "configured server, never to one named here: a server other than the configured one "
                   "needs an api_key (a 400 without).")}),
        # No dependentRequired server -> api_key: naming the configured server without a key is allowed
        # (its configured key is used), and which server is configured is not the schema's to know.
        "description": "One run: at most TEST_ITEM_MAX_BODY_BYTES read of any answer, TEST_ITEM_DEADLINE_SECONDS "
                       "in all, TEST_ITEM_CONCURRENCY runs at once (a 429 past that).",
    },
    "Attempt": _obj(("attempt", "method", "url", "status_code", "error_type", "duration_ms"), True,
                    item_id={"type": ["string", "null"]}, attempt=_INT, method=_STR, url=_STR, status_code=_NULL_INT,
                    error_type={"type": ["string", "null"]}, duration_ms=_NULL_NUM, start_offset_ms=_NULL_NUM,
                    connection_reused={"type": ["boolean", "null"]}, error_body=_STR,
                    error_phase={"type": "string"}, body_bytes=_INT),
    "TestItemResult": _obj(
        ("item_id", "ok", "status_code", "error", "requests", "attempts", "diagnosis"), True,
        item_id=_STR, ok={"type": "boolean"}, status_code=_NULL_INT, error={"type": ["string", "null"]},
        requests=_INT, attempts={"type": "array", "items": ref("Attempt")},
        diagnosis={"type": "array", "items": _STR}, findings={"type": "array", "items": ref("Finding")},
        job_id=_STR, job_file={"type": ["string", "null"]},
        limits=_obj(("max_body_bytes", "deadline_seconds"), max_body_bytes=_NULL_INT,
                    deadline_seconds=_NULL_NUM)),
}
