"""Plain helpers shared by tests (import with ``from support import ...``).

Not in ``conftest.py``: pytest keeps one module named ``conftest`` at a time,
so ``from conftest import ...`` breaks as soon as a subfolder has its own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

API_KEY = "k3y-0f-the-test-server-5ecret"
#: WorkerConfig settings for tests: no pacing, no backoff, no waiting for Retry-After.
NO_WAIT = {"min_interval": 0.0, "backoff": (0.0,), "max_retry_after": 0.0}
REPO = Path(__file__).resolve().parent.parent


def scan_for_secret(folder: Path, secret: str = API_KEY) -> list[str]:
    """Files under ``folder`` whose bytes contain ``secret``."""
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and secret.encode() in path.read_bytes():
            hits.append(str(path))
    return hits


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a child process, killing it if it has not ended within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def comparable_job(data: dict) -> dict:
    """A job file without its time of writing, and with what several worker threads appended (items,
    requests, spans) in a canonical order: the content is the contract, not the threads' interleaving."""
    comparable = {k: v for k, v in data.items() if k != "generated_at"}
    for key in ("items", "requests"):
        comparable[key] = sorted(data[key], key=_canonical)
    comparable["resourceSpans"] = sorted(
        _canonical({**rs, "scopeSpans": sorted(({**ss, "spans": sorted(ss["spans"], key=_canonical)}
                                                for ss in rs["scopeSpans"]), key=_canonical)})
        for rs in data["resourceSpans"])
    return comparable
