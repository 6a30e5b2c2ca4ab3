"""Learn what the server is: ``GET /System/Info/Public`` once per job.

The first request of a recorded job starts a :class:`ServerProbe` on a daemon
thread, so the job never waits for it; when the job ends, the job span waits
at most ``JOIN_SECONDS`` for the answer and records it. The probe's own
request is made with HTTP instrumentation suppressed, so it is not counted
as one of the job's attempts.

The probes of a process share one client for each scheme (:func:`probe_client`):
a client opened per probe cost every job a new connection and about a
millisecond of CPU. An ``https`` server is verified as httpx does by default,
with one TLS context a process (:func:`tls_context`); a plain ``http`` one
needs none. httpx builds a context for every client it opens, loading the
whole CA bundle: 16 ms of CPU, which every job paid for its probe (a job of a
few items spent more on that than on its own requests).
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
import threading
from typing import Any

import httpx
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.trace import Span

from ..collector import attributes as A
from ..collector.redact import redact_text

logger = logging.getLogger(__name__)

INFO_PATH = "/System/Info/Public"
INFO_FIELDS = ("ServerName", "Version", "ProductName", "OperatingSystem", "Id", "StartupWizardCompleted")
TIMEOUT_SECONDS = 3.0
JOIN_SECONDS = 2.0


class ServerProbe:
    """One background look at a server's public system info."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.info: dict[str, Any] | None = None
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="batch-debug-probe", daemon=True)

    def start(self) -> ServerProbe:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with suppress_http_instrumentation():
                response = probe_client(self.base_url).get(self.base_url + INFO_PATH, timeout=TIMEOUT_SECONDS)
            if response.status_code != 200:
                self.error = f"HTTP {response.status_code} from {INFO_PATH}"
                return
            data = response.json()
            if not isinstance(data, dict):
                self.error = f"{INFO_PATH} did not answer a JSON object"
                return
            self.info = {k: data[k] for k in INFO_FIELDS if k in data and data[k] is not None}
        except Exception as exc:  # noqa: BLE001 - a failed probe is a finding, not a crash
            self.error = redact_text(f"{type(exc).__name__}: {exc}")

    def record_on(self, span: Span) -> None:
        """Wait briefly for the answer and put it on the job span."""
        self._thread.join(JOIN_SECONDS)
        if self.info:
            for key, value in self.info.items():
                if isinstance(value, (str, bool, int, float)):
                    span.set_attribute(A.SERVER_INFO_PREFIX + key, value)
        elif self.error or self._thread.is_alive():
            span.set_attribute(A.SERVER_INFO_ERROR, self.error or f"no answer from {INFO_PATH} in time")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (its CA bundle, ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made once."""
    return httpx.create_ssl_context()


def verify_for(base_url: str) -> ssl.SSLContext | bool:
    """What the probe of ``base_url`` verifies with: :func:`tls_context` for ``https``; for ``http``
    nothing, since no TLS is spoken (the probe follows no redirect, so it never reaches another scheme)."""
    return tls_context() if base_url.startswith("https:") else False


_clients: dict[tuple[int, bool], httpx.Client] = {}
_clients_lock = threading.Lock()


def probe_client(base_url: str) -> httpx.Client:
    """This process's probe client for ``base_url``'s scheme (httpx clients are thread-safe; the probes of
    concurrent jobs share it). Keyed by pid too: a forked child must not use its parent's connections."""
    key = (os.getpid(), base_url.startswith("https:"))
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = httpx.Client(verify=verify_for(base_url))
    return client


def start_probe(url: Any) -> ServerProbe:
    """Start probing the server that ``url`` (an httpx.URL) points at."""
    url = httpx.URL(str(url))
    base = f"{url.scheme}://{url.netloc.decode('ascii')}"
    return ServerProbe(base).start()
