"""What a job's failures have in common: which values separate failed attempts from successful ones.

Usage::

    found = correlate(document["requests"], document["items"])
    found.to_dict()          # the API's and ``summary --correlate --json``'s answer
    found.standing_out       # the flagged values, strongest evidence first (may be empty)
    correlate_text.render_text(found)   # as the CLI prints it

Pure functions over the records of a job file (see ``analysis`` for their
fields); no I/O. Every attempt is either *failed* or *successful*
(``attempts.outcome``; redirect hops are neither and are left out).

Dimensions, each over the attempts for which it is known:

- ``route``: the Jellyfin route template; ``method``; ``attempt`` (1, 2, 3+);
- ``connection``: new or reused (only attempts that got that far);
- ``http_version`` and ``server`` (the ``Server`` header): attempts that got
  an answer (a refused connection has neither, which says nothing new);
- ``time``: which tenth of the job the attempt started in;
- ``thread``: the thread or asyncio task that ran its item (the item
  record's ``thread``: read once per item, as an item runs on one);
- ``size``: the answer's body size, in decades, for answers below 400 (an
  error answer's body is its error text); a body that broke off counts the
  bytes that arrived before the break;
- ``item.<key>``: attributes the job gave its items (``item.set_attribute``).

A value *stands out* when all three hold: at least ``MIN_FAILURES`` failed
attempts have it; its share among failures is at least ``MIN_LIFT`` times
its share among successes (a lift; infinite when no success has it); and a
one-sided Fisher exact test (do failures have this value more often than
chance?) gives p below ``ALPHA`` after a Bonferroni correction over every
value tested in every dimension. The correction is what keeps a job whose
failures are spread at random from "finding" something: with 50 values
tested, a value needs p < 0.001 before it is named.

Values are ranked by the test's p-value (the strongest evidence first), then
by lift; a dimension's rank is its best value's. Correlation is not cause:
the answer says where failures concentrate, and the findings say why.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .attempts import outcome
from .fisher import fisher_greater

Record = Mapping[str, Any]

MIN_FAILURES = 5
MIN_LIFT = 2.0
ALPHA = 0.05
#: Time buckets a job is cut into for the ``time`` dimension.
TIME_BUCKETS = 10
#: Most values listed per dimension (the ones that stand out always are).
MAX_VALUES = 8

LABELS = {
    "route": "route", "method": "HTTP method", "attempt": "attempt number", "connection": "connection",
    "http_version": "HTTP version", "server": "answering server", "time": "time in the job",
    "thread": "thread or task", "size": "answer size",
}


@dataclass(frozen=True)
class ValueShare:
    """One value of one dimension: how failures and successes have it, and the test's verdict."""

    dimension: str
    value: str
    failed: int
    succeeded: int
    failed_share: float
    succeeded_share: float
    lift: float
    p_value: float
    p_adjusted: float
    stands_out: bool

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "value": self.value, "failed": self.failed,
                "succeeded": self.succeeded, "failed_share": round(self.failed_share, 4),
                "succeeded_share": round(self.succeeded_share, 4),
                "lift": None if math.isinf(self.lift) else round(self.lift, 2),
                "p_value": significant(self.p_value), "p_adjusted": significant(self.p_adjusted),
                "stands_out": self.stands_out}


@dataclass
class Dimension:
    name: str
    failed: int  # failed attempts for which the dimension is known
    succeeded: int
    values: list[ValueShare] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS.get(self.name) or (f"item {self.name[5:]}" if self.name.startswith("item.") else self.name)

    @property
    def standing_out(self) -> list[ValueShare]:
        return [v for v in self.values if v.stands_out]

    def to_dict(self) -> dict[str, Any]:
        shown = self.standing_out + [v for v in self.values if not v.stands_out]
        return {"dimension": self.name, "label": self.label, "failed": self.failed, "succeeded": self.succeeded,
                "stands_out": bool(self.standing_out),
                "values": [v.to_dict() for v in shown[:max(MAX_VALUES, len(self.standing_out))]],
                "values_total": len(self.values)}


@dataclass
class Correlation:
    failed: int
    succeeded: int
    values_tested: int
    dimensions: list[Dimension]
    verdict: str

    @property
    def standing_out(self) -> list[ValueShare]:
        found = [v for d in self.dimensions for v in d.standing_out]
        return sorted(found, key=_rank)

    def to_dict(self) -> dict[str, Any]:
        return {"failed_attempts": self.failed, "succeeded_attempts": self.succeeded,
                "values_tested": self.values_tested, "alpha": ALPHA, "min_failures": MIN_FAILURES,
                "min_lift": MIN_LIFT, "verdict": self.verdict,
                "standing_out": [v.to_dict() for v in self.standing_out],
                "dimensions": [d.to_dict() for d in self.dimensions]}


def significant(p: float) -> float:
    """A p-value to 3 significant digits (JSON keeps tiny ones as 1.23e-45)."""
    return float(f"{p:.3g}")


def _rank(value: ValueShare) -> tuple[float, float]:
    return (value.p_value, -value.lift)


# -- what each attempt has, per dimension ---------------------------------------------------


def _size_bucket(size: Any) -> str | None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    if size == 0:
        return "0 B"
    for limit, name in ((1_000, "< 1 KB"), (10_000, "1-10 KB"), (100_000, "10-100 KB"), (1_000_000, "100 KB-1 MB")):
        if size < limit:
            return name
    return ">= 1 MB"


def _time_bucket(offset: Any, span_ms: float) -> str | None:
    if not isinstance(offset, (int, float)) or isinstance(offset, bool) or span_ms <= 0:
        return None
    index = min(max(int(offset / span_ms * TIME_BUCKETS), 0), TIME_BUCKETS - 1)
    return f"{index * 100 // TIME_BUCKETS}-{(index + 1) * 100 // TIME_BUCKETS}%"


def _answered(record: Record) -> bool:
    return record.get("status_code") is not None


def _values(record: Record, span_ms: float, item_attrs: Mapping[str, Record]) -> dict[str, str]:
    """The dimensions' values of one attempt (a dimension left out is unknown for it)."""
    found: dict[str, str] = {}
    for key in ("route", "method"):
        value = record.get(key)
        if value:
            found[key] = str(value)
    attempt = record.get("attempt")
    if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 1:
        found["attempt"] = str(attempt) if attempt < 3 else "3+"
    reused = record.get("connection_reused")
    if isinstance(reused, bool):
        found["connection"] = "reused" if reused else "new"
    if _answered(record):
        for key in ("http_version", "server"):
            value = record.get(key)
            if value:
                found[key] = str(value)
        if record["status_code"] < 400:  # an error answer's body is its error text, not the resource
            size = _size_bucket(record.get("body_bytes"))
            if size is not None:
                found["size"] = size
    bucket = _time_bucket(record.get("start_offset_ms"), span_ms)
    if bucket is not None:
        found["time"] = bucket
    item = item_attrs.get(str(record.get("item_id")), {})
    thread = record.get("thread") or item.get("thread")
    if thread:
        found["thread"] = str(thread)
    for key, value in (item.get("attributes") or {}).items():
        if isinstance(value, (str, int, float, bool)):
            found[f"item.{key}"] = str(value)
    return found


# -- the whole job ---------------------------------------------------------------------------


def correlate(requests: Iterable[Record], items: Iterable[Record] = (), *,
              duration_ms: float | None = None) -> Correlation:
    """Which dimension values separate the job's failed attempts from its successful ones (see the module doc).

    ``duration_ms`` (the job's, from its summary) sets the time buckets; given, ``requests`` is read
    once as it comes (a generator over a 1M-request file costs one record of memory), else they
    are read twice, the first time for the latest start.
    """
    item_attrs = {str(item.get("item_id")): item for item in items}
    if duration_ms is None:
        requests = list(requests)
        offsets = [r.get("start_offset_ms") for r in requests]
        numbers = [o for o in offsets if isinstance(o, (int, float)) and not isinstance(o, bool)]
        span_ms = (max(numbers) + 1e-9) if numbers else 0.0
    else:
        span_ms = max(float(duration_ms), 0.0)
    counts: dict[str, Counter[tuple[str, bool]]] = {}
    judged = failed_total = 0
    for record in requests:
        verdict = outcome(record)
        if verdict not in ("ok", "failed"):
            continue
        judged += 1
        failed_total += verdict == "failed"
        for name, value in _values(record, span_ms, item_attrs).items():
            counts.setdefault(name, Counter())[(value, verdict == "failed")] += 1
    tested = sum(len({value for value, _ in c}) for c in counts.values())
    dimensions = [_dimension(name, c, tested) for name, c in counts.items()]
    dimensions = [d for d in dimensions if d.failed and d.succeeded]
    dimensions.sort(key=lambda d: _rank(min(d.values, key=_rank)) if d.values else (1.0, 0.0))
    found = Correlation(failed_total, judged - failed_total, tested, dimensions, "")
    found.verdict = _verdict(found)
    return found


def _dimension(name: str, counts: Counter[tuple[str, bool]], tested: int) -> Dimension:
    failed = sum(n for (_, bad), n in counts.items() if bad)
    succeeded = sum(n for (_, bad), n in counts.items() if not bad)
    found = Dimension(name, failed, succeeded)
    if not failed or not succeeded:
        return found  # every attempt with this dimension failed (or none did): nothing to tell apart
    for value in sorted({value for value, _ in counts}):
        a, b = counts[(value, True)], counts[(value, False)]
        failed_share, succeeded_share = a / failed, b / succeeded
        lift = failed_share / succeeded_share if succeeded_share else math.inf
        p = fisher_greater(a, failed, succeeded, a + b)
        adjusted = min(1.0, p * tested)
        stands_out = a >= MIN_FAILURES and lift >= MIN_LIFT and adjusted < ALPHA
        found.values.append(ValueShare(name, value, a, b, failed_share, succeeded_share, lift, p, adjusted,
                                       stands_out))
    found.values.sort(key=_rank)
    return found


def _verdict(found: Correlation) -> str:
    if found.failed == 0:
        return "No attempt failed: nothing to correlate."
    if found.failed < MIN_FAILURES:
        return (f"Only {found.failed} attempt{'s' if found.failed != 1 else ''} failed: too few to say what "
                f"failures have in common (at least {MIN_FAILURES} are needed).")
    if found.succeeded == 0:
        return f"Every one of the {found.failed} judged attempts failed: there are no successes to compare with."
    top = found.standing_out
    if not top:
        return (f"No dimension stands out: the {found.failed} failed attempts are spread over every value "
                f"tested ({found.values_tested} values) about as the {found.succeeded} successful ones are.")
    best = top[0]
    label = LABELS.get(best.dimension, best.dimension)
    return (f"Failures concentrate on {label} = {best.value}: {best.failed_share:.0%} of failed attempts "
            f"have it, {best.succeeded_share:.0%} of successful ones (p = {significant(best.p_adjusted)} after "
            f"correcting for {found.values_tested} values tested).")
