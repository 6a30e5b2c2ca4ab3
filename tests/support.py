"""Plain helpers shared by tests (import with ``from support import ...``).

Not in ``conftest.py``: pytest keeps one module named ``conftest`` at a time,
so ``from conftest import ...`` breaks as soon as a subfolder has its own.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


#: What a :class:`LoopbackServer` answers: status, headers, body.
Answer = tuple[int, dict[str, str], bytes]


class LoopbackServer:
    """A plain HTTP server on 127.0.0.1 for servers the simulator cannot be (odd, hostile, internal).

    ``answer(request)`` gives (status, headers, body) for every GET and HEAD (a HEAD gets no body;
    Content-Length is added); ``url``; ``close()``.
    """

    def __init__(self, answer: Callable[[http.server.BaseHTTPRequestHandler], Answer]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                status, headers, body = answer(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll: shutdown() waits up to one poll interval for the loop to notice.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
    # How spans are grouped into ResourceSpans entries follows the writer's batches, which depend on the
    # order spans ended in: each span with its resource and scope is the content.
    comparable["resourceSpans"] = sorted(
        _canonical({"resource": rs.get("resource"), "scope": ss.get("scope"), "span": span})
        for rs in data["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"])
    return comparable


def request_span_attributes(entry: dict[str, Any], agent: str | None) -> dict[str, Any]:
    """A request span's attributes for its requests ``entry``, as ``instrumentation.exchange`` sets them:
    its order, the user agent (when given) after the route template."""
    from batch_debug.collector import attributes as A
    from batch_debug.collector.entry_attributes import given_back

    given = given_back(entry)
    order = [A.HTTP_METHOD_NEW, A.HTTP_URL_NEW, A.SERVER_ADDRESS, A.SERVER_PORT, A.URL_TEMPLATE, A.USER_AGENT,
             A.RESEND_COUNT, A.HTTP_STATUS_NEW, A.PROTOCOL_VERSION, A.ERROR_TYPE, A.BODY_SIZE]
    found = {**given, **({A.USER_AGENT: agent} if agent is not None else {})}
    return {key: found[key] for key in order if key in found}
