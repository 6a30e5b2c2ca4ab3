"""The reference batch worker on requests: ``requests.Session`` and a pool of ``concurrency`` threads.

Usage::

    from batch_debug.jellyfin.worker_requests import run_job_requests
    result = run_job_requests(WorkerConfig(server=url, api_key=key, concurrency=4), item_ids)

Does per item exactly what :func:`worker.run_job` does (same requests,
retries, pacing, results): it is a thin shell around ``worker_steps`` (see
``worker`` for the contract). Items run on a thread pool, each submitted
with ``contextvars.copy_context`` so it runs inside the job. Session
strategy ``shared``: one ``requests.Session`` for the run (its pool holds
``concurrency`` connections); ``per-request``: the module function
``requests.request``, which makes a ``Session`` per call (the poster tool's
pattern). Redirects are followed for every method (``HEAD`` included, as
httpx's client does here). Network errors, timeouts and broken bodies
(``requests.ConnectionError``, ``Timeout``, ``ChunkedEncodingError``) are
retried like httpx's transport errors.

Bounds, as far as requests allows: with a body cap or a deadline, bodies
are read as a stream (``stream=True``) in chunks, the cap and the deadline
checked after each; past the cap the item fails at once. Each request's
timeout (connect, and between bytes) is never past what is left of the
deadline, and when the deadline passes the run's watchdog shuts down the
sockets of answers being read. What differs from httpx: the cap covers the
final answer's body only (requests reads a redirect's body itself before
following it), a chunk is read whole before the checks (so a trickle can
hold the item until the chunk ends or the watchdog fires), and a request
whose head never ends is bounded by its timeout, not by the watchdog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ..instrumentation import job_span
from .bounds import ItemFailure
from .worker_config import WorkerConfig
from .worker_items import do_item, on_threads
from .worker_results import Answer, ItemResult, JobResult, Progress, ReadAnswer
from .worker_steps import Attempts, Run

__all__ = ["run_job_requests"]

#: What requests raises where httpx raises a ``TransportError``: worth a retry.
TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_CHUNK = 64 * 1024


class _SocketOf:
    """A connection as ``RunBounds``' watchdog wants it (httpcore's ``get_extra_info("socket")``)."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


class _RequestsRunner:
    """The steps of ``worker_steps`` with requests: it only sends, reads and sleeps."""

    def __init__(self, run: Run, session: requests.Session | None) -> None:
        self.run, self.session = run, session
        bounds = run.bounds
        self.bounded = bounds.max_body is not None or bounds.deadline is not None

    def send(self, method: str, path: str, auth: bool, result: ItemResult) -> Answer:
        tries = Attempts(self.run, result, method, path)
        return tries.retried(lambda: self._once(method, path, auth), TRANSPORT_ERRORS)

    def _once(self, method: str, path: str, auth: bool) -> Answer:
        run = self.run
        config, bounds = run.config, run.bounds
        kwargs: dict[str, Any] = {
            "headers": {**bounds.headers(), **(config.auth_headers() if auth else {})},
            "params": config.auth_params() if auth else {},
            "timeout": bounds.timeout(config.timeout), "allow_redirects": True, "stream": self.bounded}
        url = config.base_url + path
        if self.session is not None:
            response = self.session.request(method, url, **kwargs)
        else:
            response = requests.request(method, url, **kwargs)  # a Session of its own, per call
        if not self.bounded:
            return response  # requests has read the body
        with response:
            return ReadAnswer(response.status_code, response.headers, self._read_bounded(response))

    def _read_bounded(self, response: requests.Response) -> bytes:
        """The body through the run's bounds: ItemFailure past the cap or the deadline."""
        bounds, status = self.run.bounds, response.status_code
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if bounds.max_body is not None and encoding not in ("", "identity"):
            raise ItemFailure(status, f"the answer to {response.request.method} {response.request.path_url} came "
                                      f"compressed ({encoding}) though the worker asked for identity; its size "
                                      "cannot be capped")
        if bounds.deadline is not None:
            connection = getattr(response.raw, "connection", None)
            if connection is not None and getattr(connection, "sock", None) is not None:
                bounds.trace("connection.connect_tcp.complete", {"return_value": _SocketOf(connection.sock)})
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if bounds.max_body is not None and size > bounds.max_body:
                    raise ItemFailure(status, f"the answer's body is larger than the cap of {bounds.max_body} "
                                              f"bytes; reading stopped after {size} bytes")
                bounds.check_time(status)
                chunks.append(chunk)
        except TRANSPORT_ERRORS:
            bounds.check_time(status)  # the watchdog cut it at the deadline: ItemFailure
            raise
        return b"".join(chunks)

    def item(self, item_id: str) -> ItemResult:
        return do_item(self.run.config, item_id, self.send)


def _shared_session(concurrency: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=max(concurrency, 10))  # a pooled connection per thread
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def run_job_requests(
    config: WorkerConfig,
    item_ids: Sequence[str],
    job_id: str | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Process every item on requests (``concurrency`` threads) and return the outcome."""
    run = Run.begin(config, job_id)
    result = run.result
    with job_span(result.job_id, items_total=len(item_ids)):
        session = _shared_session(config.concurrency) if run.shared else None
        try:
            runner = _RequestsRunner(run, session)

            result.items = on_threads(item_ids, config.concurrency, runner.item, progress)
        finally:
            run.bounds.close()
            if session is not None:
                session.close()
    return run.finish()
