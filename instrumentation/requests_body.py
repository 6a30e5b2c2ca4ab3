"""The body of a requests attempt inside a job: ``response.raw`` as it is read, counted for the attempt.

``requests_record`` puts a :class:`RecordedRaw` in place of urllib3's
``HTTPResponse`` once an answer's head is recorded; see that module's doc
for what the attempt learns from it (bytes as read, after urllib3's content
decoding; the last byte's time; an error while reading, phase ``body``; an
error body read ahead up to ``bodytext.CAPTURE_LIMIT`` and given back
untouched).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .exchange import Attempt
from .streams import counted

_READ_SIZE = 64 * 1024


class RecordedRaw:
    """``response.raw`` (urllib3's ``HTTPResponse``) as it is read, counted for the attempt.

    ``stream`` and ``read`` (what requests and most callers use) are counted;
    every other attribute is the urllib3 response's own (reads through
    ``read1`` or ``readinto`` are not counted: the attempt then ends, with
    ``body_complete: false``, when the response is closed or its job ends).
    """

    def __init__(self, attempt: Attempt, inner: Any) -> None:
        self._attempt, self._inner = attempt, inner
        self._head = b""
        self._error: BaseException | None = None
        self._ended = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    # -- the attempt's end -----------------------------------------------------------
    def _got(self, chunk: bytes) -> None:
        if chunk and not self._ended:
            self._attempt.received(chunk)

    def _complete(self) -> None:
        if not self._ended:
            self._ended = True
            self._attempt.body_complete()
            self._attempt.finish()

    def _fail(self, exc: BaseException) -> None:
        if not self._ended:
            self._ended = True
            attempt = self._attempt
            # urllib3 drops the bytes of a read cut short, but counts them (tell(): bytes off the wire).
            pulled = self._inner.tell() if hasattr(self._inner, "tell") else 0
            if isinstance(pulled, int) and pulled > attempt.body_bytes:
                attempt.body_bytes = pulled
            attempt.body_failed(exc)
            self._attempt.finish()

    def _closed(self) -> None:
        if not self._ended:
            self._ended = True
            self._attempt.finish()

    # -- reading -------------------------------------------------------------------------
    def read_ahead(self, limit: int) -> None:
        """Read the first ``limit`` bytes now (an error body); given back, or the error raised, when read."""
        try:
            data = self._inner.read(limit, decode_content=True)
        except Exception as exc:  # noqa: BLE001 - given back to the caller when they read
            self._error = exc
            self._fail(exc)
            return
        self._head = data or b""
        self._got(self._head)
        if len(self._head) < limit:  # urllib3 returns less than asked only at the end
            self._complete()

    def _take_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def stream(self, amt: int | None = _READ_SIZE, decode_content: bool | None = None) -> Iterator[bytes]:
        head, self._head = self._head, b""
        if head:
            yield head
        self._take_error()
        inner = self._inner
        chunks = inner.stream(amt, decode_content=decode_content) if hasattr(inner, "stream") \
            else iter(lambda: inner.read(amt), b"")
        yield from counted(chunks, self._got, self._fail, self._complete)

    def read(self, amt: int | None = None, decode_content: bool | None = None, cache_content: bool = False) -> bytes:
        head = self._head
        if head:
            if amt is not None and amt <= len(head):
                self._head = head[amt:]
                return head[:amt]
            self._head = b""
            if self._error is not None or self._ended:
                return head  # the error (if any) is raised on the next read
            return head + self._read_more(None if amt is None else amt - len(head), decode_content, cache_content)
        self._take_error()
        return self._read_more(amt, decode_content, cache_content)

    def _read_more(self, amt: int | None, decode_content: bool | None, cache_content: bool) -> bytes:
        try:
            data = self._inner.read(amt, decode_content=decode_content, cache_content=cache_content)
        except BaseException as exc:
            self._fail(exc)
            raise
        self._got(data)
        if amt is None or (amt > 0 and len(data or b"") < amt):
            self._complete()
        return data

    # -- closing ----------------------------------------------------------------------------
    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._closed()

    def release_conn(self) -> None:
        try:
            self._inner.release_conn()
        finally:
            self._closed()
