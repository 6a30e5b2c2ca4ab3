"""Failure windows: stretches of a job in which every attempt, whatever its item, failed the same way.

Usage (``view``)::

    windows = find_windows(requests_sorted_by_start, tolerance=peak_concurrency - 1)
    [w.kind for w in windows]      # "outage", "down", "never", "late_start"

A window says the server side was not serving (an outage, a proxy that lost
its upstream, a server that went down), which is how the rules tell an
outage from bad items. Requests in flight together reach the server in about
the order they started, so answers that overlap a window's edge in time do
not split it (see :func:`find_windows`). Pure functions of request records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .. import attempts as R

Record = Mapping[str, Any]

#: A failure window spans at least this many items and attempts ...
MIN_WINDOW_ITEMS = 3
MIN_WINDOW_ATTEMPTS = 4
#: ... and this share of its attempts fail the same way (same status, or all transport errors).
WINDOW_SAME_SHARE = 0.8


@dataclass
class Window:
    """A stretch of the job in which every attempt failed the same way (see the module doc)."""

    attempts: list[Record]
    keys: list[str]  # distinct items (or URLs for attempts outside items), first-seen order
    signature: str  # the dominant outcome: a status code, or "transport error"
    before_ok: bool  # an attempt that started earlier succeeded
    after_ok: bool  # an attempt that started later succeeded
    under_way: int = 0  # answers inside the stretch to requests sent while its failures were in flight

    @property
    def start_ms(self) -> float:
        return float(self.attempts[0].get("start_offset_ms") or 0.0)

    @property
    def end_ms(self) -> float:
        return max(float(r.get("start_offset_ms") or 0.0) + float(r.get("duration_ms") or 0.0)
                   for r in self.attempts)

    @property
    def kind(self) -> str:
        """``outage`` (recovered), ``down`` (not back by the job's end), ``never`` (no success at all),
        ``late_start`` (nothing worked until it began to)."""
        if self.before_ok:
            return "outage" if self.after_ok else "down"
        return "late_start" if self.after_ok else "never"


class _Fields:
    """The request fields the windows read, by column: a job that failed throughout builds no record to
    judge a failure (each column is read once, the rarely needed ones when first asked for)."""

    def __init__(self, requests: Sequence[Record]) -> None:
        self.requests = requests
        self.status = R.column(requests, "status_code")
        self.phase = R.column(requests, "error_phase")
        self.error = R.column(requests, "error_type")
        self.start = R.column(requests, "start_offset_ms")
        self.duration = R.column(requests, "duration_ms")
        self.item = R.column(requests, "item_id")

    @cached_property
    def url(self) -> Sequence[Any]:
        return R.column(self.requests, "url")

    @cached_property
    def body(self) -> Sequence[Any]:
        return R.column(self.requests, "error_body")

    @cached_property
    def route(self) -> Sequence[Any]:
        return R.column(self.requests, "route")

    def where(self, i: int) -> str | None:
        return R.phase_of(self.status[i], self.phase[i], self.error[i])

    def end(self, i: int) -> float:
        return float(self.start[i] or 0.0) + float(self.duration[i] or 0.0)

    def key(self, i: int) -> str:
        return str(self.item[i] or self.url[i] or "?")

    def signature(self, i: int) -> str:
        status = self.status[i]
        if status is None or self.phase[i] in ("body", "aborted"):  # no answer, or its body broke off
            return "transport error"
        return str(status)

    def unavailable(self, i: int) -> bool:
        """A failure (``i`` is one) that says the server side was not serving: 5xx, or no answer at all.

        Not the client's own pool, not what the job aborted itself, and not a
        body that broke off: an answer that began came from a server that was
        there (that is the body rules' to tell).
        """
        if self.where(i) in ("pool", "body", "aborted"):
            return False
        status = self.status[i]
        return status is None or status >= 500

    def refused(self, i: int) -> bool:
        return self.where(i) == "connect" and "Timeout" not in str(self.error[i] or "")

    def gone(self, run: Sequence[int]) -> bool:
        """Evidence that the server side itself was gone, not only the work that was left:
        refused connections, a gateway's answer, or failures on more than one route."""
        return (any(map(self.refused, run))
                or any(self.status[i] in (502, 503, 504) for i in run)
                or len({self.route[i] for i in run}) >= 2)

    def item_specific(self, run: Sequence[int]) -> bool:
        """True when the answers' bodies name their own items (a server error about that item, not an outage)."""
        answered = [i for i in run if self.body[i] and self.item[i]]
        naming = sum(1 for i in answered if str(self.item[i]).lower() in str(self.body[i]).lower())
        return bool(answered) and naming * 2 >= len(answered)


def _merge(fields: _Fields, runs: list[list[int]], tolerance: int, tolerated: set[int]) -> list[list[int]]:
    """Runs with the answers between them taken in where they may stand on the wrong side of an edge."""
    merged: list[list[int]] = []
    for run in runs:
        if merged:
            last = merged[-1]
            between = range(last[-1] + 1, run[0])
            in_flight = max(map(fields.end, last))
            next_start = float(fields.start[run[0]] or 0.0)
            # Fewer than the failures around them: a long-hung failure must not swallow a busy stretch.
            few = len(between) <= tolerance or len(between) < len(last) + len(run)
            # Each answer overlapped a failure: it started while one was in flight, or was in flight
            # itself when the next failure started.
            overlapped = all(float(fields.start[i] or 0.0) <= in_flight or next_start <= fields.end(i)
                             for i in between)
            if few and overlapped:
                tolerated.update(between)
                merged[-1] = last + run
                continue
        merged.append(run)  # as it is: a merge makes a new list, never changes one
    return merged


def find_windows(requests: Sequence[Record], tolerance: int = 1, outcomes: Sequence[str] | None = None) -> list[Window]:
    """Failure windows in ``requests`` (sorted by start offset).

    A window is a run of failures that say the server side was not serving.
    Requests in flight together reach the server in about, not exactly, the
    order they started (a thread can be held back between stamping its start
    and sending): other answers that overlapped a failure of the run in time
    (sent while one was in flight, or in flight when the next one started)
    may have reached the server on the other side of its edge, and do not
    split it, as long as they are few (``tolerance``, the job's concurrency
    less one, or fewer than the failures around them). ``outcomes``:
    ``attempts.outcomes(requests)``, when the caller has it already.
    """
    if outcomes is None:
        outcomes = R.outcomes(requests)
    runs: list[list[int]] = []  # indexes of consecutive unavailable attempts
    # By index, failures only: reading every record of a million-request job would build each one.
    failures = [i for i, kind in enumerate(outcomes) if kind == "failed"] if "failed" in outcomes else []
    if not failures:
        return []  # a window is made of failures
    fields = _Fields(requests)
    for index in failures:
        if fields.unavailable(index):
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            else:
                runs.append([index])
    tolerated: set[int] = set()
    merged = _merge(fields, runs, tolerance, tolerated)
    while True:  # a merge makes a run longer, which may let it take in its neighbour: until nothing changes
        again = _merge(fields, merged, tolerance, tolerated)
        if len(again) == len(merged):
            break
        merged = again
    # The first and the last success that counts (a scan from each end, no list of a million indexes).
    first_ok = next((i for i, kind in enumerate(outcomes) if kind == "ok" and i not in tolerated), None)
    last_ok = next((i for i in range(len(outcomes) - 1, -1, -1) if outcomes[i] == "ok" and i not in tolerated), None)
    windows: list[Window] = []
    for run in merged:
        keys = list(dict.fromkeys(map(fields.key, run)))
        signature, same = Counter(map(fields.signature, run)).most_common(1)[0]
        before_ok = first_ok is not None and first_ok < run[0]
        after_ok = last_ok is not None and last_ok > run[-1]
        # Nothing in the whole job worked, or refusals to the end (never about an item): a small run will do.
        refused_to_end = not after_ok and len(run) >= 2 and all(map(fields.refused, run))
        small = (len(run) < MIN_WINDOW_ATTEMPTS or len(keys) < MIN_WINDOW_ITEMS) and first_ok is not None
        if (small and not refused_to_end) or same < WINDOW_SAME_SHARE * len(run) or fields.item_specific(run):
            continue
        under_way = sum(1 for i in range(run[0], run[-1] + 1) if i in tolerated)
        if before_ok and not after_ok and not fields.gone(run):  # Window.kind "down"
            continue  # only the job's last items failed: nothing says the server went away
        # The window's attempts, built a chunk at a time and kept (the rules tell them apart by identity).
        windows.append(Window(R.pick(requests, run), keys, signature, before_ok=before_ok, after_ok=after_ok,
                              under_way=under_way))
    return windows
