"""Span attribute keys written by batch-debug, in one place.

The instrumentation writes them, the processor and ``records`` read them.
Keys under ``batch_debug.`` are ours; the rest are OpenTelemetry semantic
conventions that we also read (old and new HTTP names both appear, depending
on ``OTEL_SEMCONV_STABILITY_OPT_IN``).
"""

#: Instrumentation scope (tracer name) of every span batch-debug makes itself.
SCOPE_NAME = "batch_debug"

# Job and item spans.
JOB_ID = "batch_debug.job.id"
JOB_ITEMS_TOTAL = "batch_debug.job.items_total"
JOB_SESSIONS_CREATED = "batch_debug.job.sessions_created"
JOB_ITEMS_STARTED = "batch_debug.job.items_started"
#: The exception that ended the job: its class name and redacted message.
JOB_ERROR_TYPE = "batch_debug.job.error.type"
JOB_ERROR_MESSAGE = "batch_debug.job.error.message"
#: HTTP requests this process made with debug on but outside any job while the job ran.
JOB_OUTSIDE_REQUESTS = "batch_debug.job.requests_outside_jobs"
ITEM_ID = "batch_debug.item.id"
ITEM_OUTCOME = "batch_debug.item.outcome"  # "succeeded" | "failed"
ITEM_ERROR = "batch_debug.item.error"
#: Prefix of the attributes a job gives an item (``item_span.set_attribute``), one per key.
ITEM_ATTR_PREFIX = "batch_debug.item.attr."
#: The thread (or asyncio task) that ran the item: semantic conventions' ``thread.name``.
THREAD_NAME = "thread.name"
#: Items whose outcome was "failed", counted on the job span (which is then ERROR: "3 of 10 items failed").
JOB_ITEMS_FAILED = "batch_debug.job.items_failed"

# Server facts learned once per job (GET /System/Info/Public).
SERVER_INFO_PREFIX = "batch_debug.server.info."  # + ServerName, Version, ...
SERVER_INFO_ERROR = "batch_debug.server.info_error"

# HTTP attempt spans. Ours (``instrumentation.exchange``) carry the semantic-convention
# method, URL, status and error type, the resend count and RECORD (item id included); the
# stock httpx CLIENT span (requests outside jobs) carries the rest below, set by our hooks.
REQUEST_ITEM_ID = "batch_debug.item.id"
RESEND_COUNT = "http.request.resend_count"  # semconv: 0 on the first attempt
CONNECTION_REUSED = "batch_debug.connection.reused"
CONNECT_MS = "batch_debug.timing.connect_ms"
TLS_MS = "batch_debug.timing.tls_ms"
TTFB_MS = "batch_debug.timing.ttfb_ms"
ERROR_BODY = "batch_debug.response.error_body"
REQUEST_HEADERS = "batch_debug.request.headers"  # JSON object, redacted
RESPONSE_HEADERS = "batch_debug.response.headers"  # JSON object, redacted
SERVER_HEADER = "batch_debug.response.server"
HTTP_VERSION = "batch_debug.http.version"
#: The rest of the attempt's request record (what no other attribute holds: timings,
#: body phase, connection, credential fingerprint, error body...) as compact JSON.
#: With the attributes above it is the whole record (``records.request_record``),
#: so a job file can be rebuilt from its spans alone: in another process, on
#: another host, behind an OTLP exporter, or from a job file's own resourceSpans.
RECORD = "batch_debug.record"

# Semantic-convention names we read.
HTTP_METHOD_OLD = "http.method"
HTTP_METHOD_NEW = "http.request.method"
HTTP_URL_OLD = "http.url"
HTTP_URL_NEW = "url.full"
HTTP_STATUS_OLD = "http.status_code"
HTTP_STATUS_NEW = "http.response.status_code"
ERROR_TYPE = "error.type"
# Written on request spans (ours, and the stock ones by our hooks), per the stable HTTP client conventions.
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
URL_TEMPLATE = "url.template"
USER_AGENT = "user_agent.original"
PROTOCOL_VERSION = "network.protocol.version"
BODY_SIZE = "http.response.body.size"

