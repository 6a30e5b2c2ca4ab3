"""What a reference-worker run gives back (``JobResult`` of ``ItemResult``s) and what its steps read of an
answer, whatever the HTTP client (``Answer``; an aiohttp runner reads its responses into a ``ReadAnswer``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol


@dataclass
class ItemResult:
    item_id: str
    ok: bool
    status_code: int | None = None
    error: str | None = None
    requests: int = 0
    size_bytes: int = 0


@dataclass
class JobResult:
    job_id: str
    items: list[ItemResult] = field(default_factory=list)
    duration_seconds: float = 0.0
    job_file: Path | None = None

    @property
    def succeeded(self) -> int:
        return sum(1 for item in self.items if item.ok)

    @property
    def failed(self) -> int:
        return len(self.items) - self.succeeded

    @property
    def requests(self) -> int:
        return sum(item.requests for item in self.items)


Progress = Callable[[ItemResult], None]


class Answer(Protocol):
    """What the steps read of a response, whatever the client: ``httpx.Response`` and
    ``requests.Response`` have it as they are; an aiohttp runner gives a :class:`ReadAnswer`."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...  # case-insensitive, as every client's is
    @property
    def content(self) -> bytes: ...


class ReadAnswer(NamedTuple):
    """A response already read whole (aiohttp's status, headers and ``await read()``)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
