"""Peek at an error response's body without taking it from the caller (stock spans only).

Used by the hooks on the stock instrumentation's spans (requests outside any
job; requests inside jobs are recorded by ``exchange``). httpx's
``ResponseStream`` wraps httpcore's stream (``upstream.httpcore_stream``); we read
the first chunks (up to ``bodytext.CAPTURE_LIMIT``) from it and put a replay
in its place, so the caller still reads the whole body, and a read error is
given back to the caller when they read. Other stream types are left alone
(None). The snippet is the body's readable text (``bodytext.readable``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..collector.bodytext import CAPTURE_LIMIT, readable
from ..collector.redact import redact_text
from .upstream import httpcore_stream, replace_httpcore_stream


def _snippet(chunks: list[bytes], complete: bool) -> str:
    text, _ = readable(b"".join(chunks)[:CAPTURE_LIMIT], None, complete=complete)
    return redact_text(text)


class _ReplayStream:
    """Gives back the chunks we peeked at, then the rest of the original stream."""

    def __init__(self, head: list[bytes], rest: Any, original: Any, error: BaseException | None) -> None:
        self.head, self.rest, self.original, self.error = head, rest, original, error

    def __iter__(self) -> Iterator[bytes]:
        yield from self.head
        if self.error is not None:
            raise self.error
        if self.rest is not None:
            yield from self.rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.head:
            yield chunk
        if self.error is not None:
            raise self.error
        if self.rest is not None:
            async for chunk in self.rest:
                yield chunk

    def close(self) -> None:
        if hasattr(self.original, "close"):
            self.original.close()

    async def aclose(self) -> None:
        if hasattr(self.original, "aclose"):
            await self.original.aclose()


def _replay(stream: Any, inner: Any, head: list[bytes], rest: Any, error: BaseException | None) -> str:
    """Put the replay in place of ``inner``; the snippet of what was peeked at."""
    replace_httpcore_stream(stream, _ReplayStream(head, rest, inner, error))
    return _snippet(head, rest is None and error is None)


# peek_error_body and its async twin are thin shells: each reads the first chunks (the only step
# that differs) and hands them to _replay.

def peek_error_body(stream: Any) -> str | None:
    """The readable start of a response body (redacted), leaving the body to the caller."""
    inner = httpcore_stream(stream)
    if inner is None:
        return None
    head: list[bytes] = []
    size, error, rest = 0, None, iter(inner)
    try:
        for chunk in rest:
            head.append(chunk)
            size += len(chunk)
            if size >= CAPTURE_LIMIT:
                break
        else:
            rest = None
    except Exception as exc:  # noqa: BLE001 - give it back to the caller when they read
        error, rest = exc, None
    return _replay(stream, inner, head, rest, error)


async def peek_error_body_async(stream: Any) -> str | None:
    """The async twin of :func:`peek_error_body`."""
    inner = httpcore_stream(stream)
    if inner is None:
        return None
    head: list[bytes] = []
    size, error = 0, None
    rest: Any = inner.__aiter__()
    try:
        while size < CAPTURE_LIMIT:
            try:
                chunk = await rest.__anext__()
            except StopAsyncIteration:
                rest = None
                break
            head.append(chunk)
            size += len(chunk)
    except Exception as exc:  # noqa: BLE001
        error, rest = exc, None
    return _replay(stream, inner, head, _AsyncRest(rest) if rest is not None else None, error)


class _AsyncRest:
    def __init__(self, iterator: Any) -> None:
        self.iterator = iterator

    def __aiter__(self) -> Any:
        return self.iterator


