"""Small text helpers for findings: plurals, times, lists of examples."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

MAX_EXAMPLES = 5

_PLURALS = {"retry": "retries", "was": "were", "has": "have", "it": "they", "is": "are"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 item``, ``2 items``, ``3 retries``."""
    return f"{n} {word if n == 1 else many or _PLURALS.get(word) or word + 's'}"


def verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def seconds(ms: float | None) -> str:
    """A time offset or span for people: ``840 ms``, ``1.25 s``."""
    if ms is None:
        return "?"
    return f"{ms:.0f} ms" if abs(ms) < 1000 else f"{ms / 1000:.2f} s"


def examples(ids: Sequence[str], limit: int = MAX_EXAMPLES) -> str:
    """``a, b, c and 4 more``."""
    shown = ", ".join(ids[:limit])
    return f"{shown} and {len(ids) - limit} more" if len(ids) > limit else shown


def counts(counter: Mapping[str, int]) -> str:
    """``502: 20, ConnectError: 3`` (most frequent first)."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def listing(words: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def share(part: int, whole: int) -> str:
    return f"{part} of {whole}" + (f" ({part * 100 / whole:.0f}%)" if whole else "")
