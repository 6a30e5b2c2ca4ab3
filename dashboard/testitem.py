"""The Custom ID Test: run the reference worker on one item and explain it.

Usage::

    result = diagnose("http://jellyfin:8096", api_key, "0123456789abcdef0123456789abcdef")
    result["ok"], result["attempts"], result["diagnosis"]

The worker runs exactly as in a batch (lookup, HEAD probe, download; up to
three attempts per request with a short backoff). Each HTTP attempt is
recorded by a wrapper around ``httpx.HTTPTransport.handle_request`` that is
active only inside :func:`diagnose` (a ``ContextVar``; elsewhere the wrapper
costs one lookup), so the diagnosis works whether debug tracing is on or
off. The records go through ``collector.analysis.recommendations``, the same
advice a job file carries. The API key never appears in the result: URLs and
texts are redacted, and the whole answer passes through ``redact_tree``.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

import httpx
from wrapt import wrap_function_wrapper

from ..collector import analysis
from ..collector.attributes import ERROR_BODY_LIMIT
from ..collector.redact import redact_text, redact_tree, redact_url
from ..jellyfin.worker import WorkerConfig, run_job

logger = logging.getLogger(__name__)

ITEM_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (0.2, 0.5)
TIMEOUT_SECONDS = 10.0

_sink: ContextVar[_Recorder | None] = ContextVar("batch_debug_test_item", default=None)
_install_lock = threading.Lock()
_installed = False


def validate_item_id(item_id: object) -> str:
    """The item id, or ValueError saying what is allowed."""
    if not isinstance(item_id, str) or not ITEM_ID_RE.match(item_id):
        raise ValueError(
            f"item_id must be 1 to 128 of the characters A-Z a-z 0-9 _ - "
            f"(a Jellyfin id is 32 hex characters), not {str(item_id)[:140]!r}."
        )
    return item_id


class _ConnectionTrace:
    """httpcore ``trace`` callback: did this attempt open a new connection?"""

    def __init__(self, record: dict[str, Any], chained: Any) -> None:
        self.record, self.chained = record, chained

    def __call__(self, name: str, info: dict[str, Any]) -> Any:
        if name == "connection.connect_tcp.complete":
            self.record["connection_reused"] = False
        elif name.endswith(".send_request_headers.started") and self.record["connection_reused"] is None:
            self.record["connection_reused"] = True
        if self.chained is not None:
            return self.chained(name, info)
        return None


class _Recorder:
    """Request records (see ``collector.analysis``) of one test run."""

    def __init__(self, item_id: str, secret: str) -> None:
        self.item_id, self.secret = item_id, secret
        self.started = time.perf_counter()
        self.records: list[dict[str, Any]] = []
        self._sent: dict[tuple[str, str], int] = {}

    def begin(self, request: httpx.Request) -> dict[str, Any]:
        url = redact_text(redact_url(str(request.url)), [self.secret])
        key = (request.method, url)
        self._sent[key] = self._sent.get(key, 0) + 1
        record: dict[str, Any] = {
            "item_id": self.item_id, "attempt": self._sent[key], "method": request.method, "url": url,
            "status_code": None, "error_type": None, "duration_ms": None,
            "start_offset_ms": round((time.perf_counter() - self.started) * 1000, 3),
            "connection_reused": None, "http_version": None, "server": None, "retry_after": None,
        }
        self.records.append(record)
        return record


def _record_attempt(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    recorder = _sink.get()
    if recorder is None:
        return wrapped(*args, **kwargs)
    request: httpx.Request = args[0] if args else kwargs["request"]
    record = recorder.begin(request)
    request.extensions["trace"] = _ConnectionTrace(record, request.extensions.get("trace"))
    t0 = time.perf_counter()
    try:
        response = wrapped(*args, **kwargs)
    except Exception as exc:
        record["error_type"] = type(exc).__name__
        record["duration_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        raise
    record["status_code"] = response.status_code
    record["server"] = response.headers.get("server")
    record["retry_after"] = response.headers.get("retry-after")
    version = response.extensions.get("http_version")
    record["http_version"] = version.decode() if isinstance(version, bytes) else version
    if response.status_code >= 400 and request.method != "HEAD":
        # Error bodies are small; reading them here keeps a copy and still leaves
        # the whole body to the caller (httpx serves it from memory).
        try:
            body = response.read()
        except Exception as exc:
            record["error_type"] = type(exc).__name__
            record["duration_ms"] = round((time.perf_counter() - t0) * 1000, 3)
            raise
        record["error_body"] = redact_text(body[:ERROR_BODY_LIMIT].decode("utf-8", "replace"), [recorder.secret])
    record["duration_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    return response


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            wrap_function_wrapper(httpx.HTTPTransport, "handle_request", _record_attempt)
            _installed = True


def diagnose(server: str, api_key: str, item_id: str, *, timeout: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """Run the worker on ``item_id`` against ``server`` and return its diagnosis.

    Raises ValueError for a bad item id or server URL; everything that goes
    wrong on the wire is part of the answer, not an exception.
    """
    validate_item_id(item_id)
    config = WorkerConfig(server=server, api_key=api_key, max_attempts=MAX_ATTEMPTS,
                          backoff=BACKOFF_SECONDS, min_interval=0.0, timeout=timeout)
    _install()
    job_id = f"custom-test-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    recorder = _Recorder(item_id, api_key)
    token = _sink.set(recorder)
    try:
        result = run_job(config, [item_id], job_id=job_id)
    finally:
        _sink.reset(token)
    item = result.items[0]
    items = [{"item_id": item_id, "outcome": "succeeded" if item.ok else "failed",
              "error": item.error, "duration_ms": None}]
    requests = recorder.records
    env = analysis.environment(None, requests)
    answer = {
        "item_id": item_id,
        "ok": item.ok,
        "status_code": item.status_code,
        "error": item.error,
        "requests": len(requests),
        "size_bytes": item.size_bytes,
        "duration_seconds": result.duration_seconds,
        "server": redact_url(config.base_url),
        "server_header": env["server_header"],
        "attempts": requests,
        "diagnosis": analysis.recommendations(requests, items, env),
        "job_id": job_id,
        "job_file": result.job_file.name if result.job_file is not None else None,
    }
    return redact_tree(answer, [api_key])  # type: ignore[return-value]
