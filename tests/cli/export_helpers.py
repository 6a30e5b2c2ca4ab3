"""What the ``batch-debug export`` tests share: the CLI run as a process, and a receiver that keeps the raw
bytes it was sent (for the secrets scan, the headers and a refusing answer)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from typing import Any

from support import REPO

README = (REPO / "README.md").read_text()


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("APHRODITE_BATCH_DEBUG", "OTEL_"))},
           **(env or {})}
    return subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


class RawReceiver:
    """A plain HTTP server that keeps every request (path, headers, body) and answers ``status``."""

    def __init__(self, status: int = 200, body: bytes = b"{}", content_type: str = "application/json") -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.got.append((self.path, dict(self.headers.items()), data))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits up to one poll interval (0.5 s by default) for the loop to notice.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def everything(self) -> bytes:
        return b"".join(path.encode() + json.dumps(headers).encode() + body for path, headers, body in self.got)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
