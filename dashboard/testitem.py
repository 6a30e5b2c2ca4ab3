"""The Custom ID Test: run the reference worker on one item and explain it.

Usage::

    result = diagnose("http://jellyfin:8096", api_key, "0123456789abcdef0123456789abcdef")
    result["ok"], result["attempts"], result["findings"], result["diagnosis"]

The worker runs exactly as in a batch (lookup, HEAD probe, download; up to
three attempts per request with a short backoff). Its attempts are recorded
by the same record builder as every job (``instrumentation.exchange``): the
run happens inside ``jobstate.capturing()``, which hands this module the
job's spans whether debug tracing is on (the job is also written as usual)
or off (recorded for this answer only). The records go through the same
diagnosis a job file carries. The API key never appears in the result: it
and every credential the run sends are learned into a private secret book
(not the process's: a caller may supply any key), URLs and texts are
redacted, and the whole answer passes through ``redact_tree``.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from typing import Any

from ..collector import analysis, records
from ..collector.redact import redact_tree, redact_url
from ..collector.secrets import private_book
from ..instrumentation.jobstate import capturing
from ..instrumentation.pipeline import ensure_gate
from ..jellyfin.worker import WorkerConfig, run_job

ITEM_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (0.2, 0.5)
TIMEOUT_SECONDS = 10.0


def validate_item_id(item_id: object) -> str:
    """The item id, or ValueError saying what is allowed."""
    if not isinstance(item_id, str) or not ITEM_ID_RE.match(item_id):
        raise ValueError(
            f"item_id must be 1 to 128 of the characters A-Z a-z 0-9 _ - "
            f"(a Jellyfin id is 32 hex characters), not {str(item_id)[:140]!r}."
        )
    return item_id


def diagnose(server: str, api_key: str, item_id: str, *, timeout: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """Run the worker on ``item_id`` against ``server`` and return its diagnosis.

    Raises ValueError for a bad item id or server URL; everything that goes
    wrong on the wire is part of the answer, not an exception.
    """
    validate_item_id(item_id)
    config = WorkerConfig(server=server, api_key=api_key, max_attempts=MAX_ATTEMPTS,
                          backoff=BACKOFF_SECONDS, min_interval=0.0, timeout=timeout)
    job_id = f"custom-test-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    ensure_gate()
    with private_book() as book, capturing() as capture:
        book.learn(api_key)
        result = run_job(config, [item_id], job_id=job_id)
    spans = list(capture.spans)
    start_ns = min((span.start_time or 0 for span in spans), default=0)
    requests, items = records.job_records(spans, start_ns)
    for item in items:
        item.pop("started_ns", None)
    outcome = result.items[0]
    env = analysis.environment(None, requests)
    life = {"ended": True, "complete": True, "items_declared": 1, "items_started": 1}
    findings, advice = analysis.diagnose(requests, items, life=life, env=env)
    answer = {
        "item_id": item_id,
        "ok": outcome.ok,
        "status_code": outcome.status_code,
        "error": outcome.error,
        "requests": len(requests),
        "size_bytes": outcome.size_bytes,
        "duration_seconds": result.duration_seconds,
        "server": redact_url(config.base_url),
        "server_header": env["server_header"],
        "attempts": requests,
        "findings": findings,
        "diagnosis": advice,
        "job_id": job_id,
        "job_file": result.job_file.name if result.job_file is not None else None,
    }
    return redact_tree(answer, [api_key, *book.values()])  # type: ignore[return-value]
