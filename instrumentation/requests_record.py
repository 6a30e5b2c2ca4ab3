"""The record of a requests attempt inside a job: each hop, its connection, its answer and its body.

Usage (``requests_setup``'s gate, for a ``Session.send`` inside a job)::

    return send_in_job(original_send, session, prepared_request, kwargs, job)

``Session.send`` is run as it is, on a stand-in for the session whose
adapters record (:class:`_HopSession`): every hop (``HTTPAdapter.send``:
the first request, each redirect, each of the caller's retries) becomes one
``exchange.Attempt``, as with httpx; requests' own redirect, cookie and
hook handling is untouched. ``Attempt`` reads cheap views of the hop: a
``views.RequestView`` of the ``PreparedRequest`` (method, URL, headers) and an
``httpx.Response`` of the answer (status, headers, ``HTTP/1.x`` from urllib3's
``version``).

What each record holds, and where it comes from:

- *connection*: urllib3 opens a connection by calling
  ``HTTPConnection.connect()`` (``HTTPSConnection.connect()`` for TLS) on the
  connection the pool handed out; ``requests_setup`` wraps both, and the
  wrapper stamps the attempt found in :data:`connecting` (set only while a
  job's hop is being sent, on its own thread). A hop during which
  ``connect()`` ran opened a new connection (its time is ``connect_ms``; TLS
  included, as urllib3 does both in one call, so there is no ``tls_ms``);
  one during which it did not reused a pooled connection. A hop whose
  connect failed has no reuse figure and fails in phase ``connect``;
- *time to first byte*: from the request going out (the adapter called, or
  the connection opened) to the adapter returning with the answer's head;
- *failures before an answer* are recorded as urllib3 reports them, not as
  requests wraps them (requests raises ``ConnectionError`` for a refused
  connection and a dropped one alike): ``NewConnectionError``,
  ``ConnectTimeoutError``, ``ReadTimeoutError``, ``ProtocolError``, ...;
- *the body* (``requests_body.RecordedRaw``, put in place of ``response.raw``): what
  requests (``.content``, ``iter_content``) or the caller (``raw.read``,
  ``raw.stream``) reads, counted as read (after urllib3's content decoding,
  unlike httpx, which counts the bytes as sent), the time of the last byte,
  and an error while reading (urllib3's ``ProtocolError`` for a cut,
  ``ReadTimeoutError`` for a stall: phase ``body``; the bytes of a read cut
  short, which urllib3 drops, still count, from its ``tell()``). The attempt
  ends when the body has been read to its end or broke off, when the
  response is closed, or when its job ends. An error body (status >= 400) is read ahead
  up to ``bodytext.CAPTURE_LIMIT`` and given back to the caller untouched.

Nothing here may break the request: our own failures are logged and the
request goes on unrecorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from requests import PreparedRequest, RequestException, Response
from urllib3.exceptions import MaxRetryError

from ..collector.bodytext import CAPTURE_LIMIT
from .exchange import Attempt
from .jobstate import JobState
from .requests_body import RecordedRaw
from .views import RequestView, answer_view, from_text
from .wire import Timings

logger = logging.getLogger(__name__)

#: The stamps of the job's hop being sent in this context (None otherwise): what ``connect()`` stamps.
connecting: ContextVar[list[float] | None] = ContextVar("batch_debug_requests_connecting", default=None)
#: urllib3's ``HTTPResponse.version`` as the record writes it.
_VERSIONS = {9: b"HTTP/0.9", 10: b"HTTP/1.0", 11: b"HTTP/1.1", 20: b"HTTP/2"}


def send_in_job(original: Callable[..., Response], session: Any, request: PreparedRequest,
                kwargs: dict[str, Any], job: JobState) -> Response:
    """``Session.send`` with each of its hops recorded for ``job``."""
    return original(_HopSession(session, job), request, **kwargs)


def stamped_connect(original: Callable[[Any], None]) -> Callable[[Any], None]:
    """``HTTPConnection.connect`` that stamps the connect of a job's hop (see the module doc)."""

    def connect(self: Any) -> None:
        stamps = connecting.get()
        if stamps is None:
            return original(self)
        stamps[0], stamps[1], stamps[4] = time.perf_counter(), 0.0, 0.0  # no reuse figure if it fails
        original(self)
        stamps[1] = stamps[4] = time.perf_counter()
        return None

    connect._batch_debug_connect = True  # type: ignore[attr-defined]
    connect.__wrapped__ = original  # type: ignore[attr-defined]
    return connect


class _HopSession:
    """The session as ``Session.send`` sees it inside a job: the same, but its adapters record each hop.

    Only ``get_adapter`` differs; every other attribute is the session's own
    (``resolve_redirects`` among them, so each redirect goes through the
    gate again, as a hop of its own).
    """

    __slots__ = ("_session", "_job")

    def __init__(self, session: Any, job: JobState) -> None:
        self._session, self._job = session, job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def get_adapter(self, url: str) -> Any:
        return _RecordingAdapter(self._session.get_adapter(url=url), self._job)


class _RecordingAdapter:
    """A transport adapter whose ``send`` (one hop) is recorded as an ``exchange.Attempt``."""

    __slots__ = ("_adapter", "_job")

    def __init__(self, adapter: Any, job: JobState) -> None:
        self._adapter, self._job = adapter, job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        adapter = self._adapter
        begun = _begin(self._job, request)
        if begun is None:
            return adapter.send(request, **kwargs)
        attempt, view = begun
        stamps = attempt.timings.stamps
        token = connecting.set(stamps)
        stamps[4] = time.perf_counter()
        try:
            response = adapter.send(request, **kwargs)
        except BaseException as exc:
            _failed(attempt, exc, view)
            raise
        finally:
            connecting.reset(token)
        stamps[5] = time.perf_counter()
        _answered(attempt, view, response)
        return response


def _begin(job: JobState, request: PreparedRequest) -> tuple[Attempt, RequestView] | None:
    """The attempt recording this hop and the request's view, or None: it goes on unrecorded."""
    try:
        # Header values are str or bytes, as requests allows; the view takes both.
        view = from_text(request.method or "GET", request.url or "", request.headers.items())
        return Attempt(job, view, Timings), view
    except Exception:  # noqa: BLE001 - our failure must not become the request's
        logger.exception("batch-debug could not trace a request; it goes on untraced")
        return None


def cause(exc: BaseException) -> BaseException:
    """What urllib3 reported under requests' wrapper (``ConnectionError(MaxRetryError(reason))``)."""
    inner = exc.args[0] if isinstance(exc, RequestException) and exc.args else None
    if isinstance(inner, MaxRetryError) and inner.reason is not None:
        return inner.reason
    return inner if isinstance(inner, BaseException) else exc


def _failed(attempt: Attempt, exc: BaseException, view: RequestView) -> None:
    try:
        attempt.failed(cause(exc), view)
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not record a failed request")


def _answered(attempt: Attempt, view: RequestView, response: Response) -> None:
    """Note the answer's head and put the recorded body in place of ``response.raw``."""
    try:
        raw = response.raw
        version = _VERSIONS.get(getattr(raw, "version", 11), b"HTTP/1.1")
        answer = answer_view(response.status_code, response.headers.items(), version)
        read_ahead = attempt.answered(view, answer)
        if raw is None:  # an adapter that gives no body
            attempt.finish()
            return
        body = RecordedRaw(attempt, raw)
        if read_ahead:
            body.read_ahead(CAPTURE_LIMIT)
        response.raw = body
    except Exception:  # noqa: BLE001
        logger.exception("batch-debug could not record a response; the request goes on")
