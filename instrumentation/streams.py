"""The response body of a traced attempt, as the caller reads it: counted, timed, and given back whole.

Usage (``transport``)::

    body = RecordedBody(attempt, response.stream)
    if attempt.answered(request, response):
        body.read_ahead_upto(CAPTURE_LIMIT)    # an error body: kept even if the job never reads it
    response.stream = body

Every chunk the caller reads passes through ``Attempt.received``; the end of
the body, an error while reading it (a stall, a cut), or the caller's
``close`` end the attempt (``Attempt.body_complete``, ``body_failed``,
``finish``). Read-ahead chunks, and an error met while reading ahead, are
handed to the caller exactly as the transport gave them. A caller that
stops reading early (``GeneratorExit``) has not failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator

import httpx

from .exchange import Attempt


def counted(chunks: Iterable[bytes], got: Callable[[bytes], None], failed: Callable[[BaseException], None],
            complete: Callable[[], None]) -> Iterator[bytes]:
    """``chunks`` passed on, each told to ``got``; then ``complete()``, or ``failed(exc)`` when reading
    raised (the error goes on to the caller). A caller that stops reading is neither."""
    try:
        for chunk in chunks:
            got(chunk)
            yield chunk
    except GeneratorExit:
        raise  # the caller stopped reading: closing is not failing
    except BaseException as exc:
        failed(exc)
        raise
    complete()


class RecordedBody(httpx.SyncByteStream):
    """The response body as the caller reads it, counted for the attempt (see the module doc)."""

    def __init__(self, attempt: Attempt, inner: httpx.SyncByteStream) -> None:
        self.attempt, self.inner = attempt, inner
        self.head: list[bytes] = []
        self.rest: Iterator[bytes] | None = None
        self.error: BaseException | None = None
        self.read_ahead = False

    def read_ahead_upto(self, limit: int) -> None:
        """Read the first ``limit`` bytes now; they (or the error) are given back when the caller reads."""
        self.read_ahead = True
        attempt, rest = self.attempt, iter(self.inner)
        size = 0
        try:
            while size < limit:
                chunk = next(rest)
                attempt.received(chunk)
                self.head.append(chunk)
                size += len(chunk)
            self.rest = rest
        except StopIteration:
            attempt.body_complete()
        except Exception as exc:  # noqa: BLE001 - given back to the caller when they read
            self.error = exc
            attempt.body_failed(exc)

    def __iter__(self) -> Iterator[bytes]:
        head, self.head = self.head, []
        yield from head
        if self.error is not None:
            raise self.error
        rest = self.rest if self.read_ahead else iter(self.inner)
        if rest is None:
            return
        attempt = self.attempt
        yield from counted(rest, attempt.received, attempt.body_failed, attempt.body_complete)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.attempt.finish()


class AsyncRecordedBody(httpx.AsyncByteStream):
    """The async twin of :class:`RecordedBody`."""

    def __init__(self, attempt: Attempt, inner: httpx.AsyncByteStream) -> None:
        self.attempt, self.inner = attempt, inner
        self.head: list[bytes] = []
        self.rest: AsyncIterator[bytes] | None = None
        self.error: BaseException | None = None
        self.read_ahead = False

    async def read_ahead_upto(self, limit: int) -> None:
        self.read_ahead = True
        attempt, rest = self.attempt, self.inner.__aiter__()
        size = 0
        try:
            while size < limit:
                chunk = await rest.__anext__()
                attempt.received(chunk)
                self.head.append(chunk)
                size += len(chunk)
            self.rest = rest
        except StopAsyncIteration:
            attempt.body_complete()
        except Exception as exc:  # noqa: BLE001
            self.error = exc
            attempt.body_failed(exc)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head, self.head = self.head, []
        for chunk in head:
            yield chunk
        if self.error is not None:
            raise self.error
        rest = self.rest if self.read_ahead else self.inner.__aiter__()
        if rest is None:
            return
        attempt = self.attempt
        try:
            async for chunk in rest:
                attempt.received(chunk)
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:  # CancelledError included: the job stopped the download
            attempt.body_failed(exc)
            raise
        attempt.body_complete()

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.attempt.finish()
