"""Findings: what went wrong in a job, and why, built from evidence.

Usage::

    from batch_debug.collector.diagnosis import diagnose, render
    findings = diagnose(JobView(requests, items, life=life, env=env))
    [f.to_dict() for f in findings]          # the job file's summary["findings"]
    render(findings, view)                   # summary["recommendations"]: a string each

The diagnosis is a registry of small rules (``rules_*`` modules), each a pure
function of a :class:`~.view.JobView` that returns zero or more
:class:`Finding`: ``{id, cause, evidence, confidence, action}``.

- ``id``: a stable slug (:data:`FINDING_IDS` lists them all; the README
  documents each);
- ``cause``: what happened, with the figures that show it;
- ``evidence``: what a sceptical admin would ask for, with fixed keys:
  ``attempts``, ``items``, ``example_item_ids``, ``window_ms``
  (``{start, end}`` offsets since the job began), ``status_codes``,
  ``servers``, with ``server_said``/``server_said_attempts`` when failed
  answers carried a body (the server's own words, see :mod:`.quotes`), plus
  each rule's own keys (documented on the rule);
- ``confidence``: ``high`` (the evidence shows the cause), ``medium``
  (consistent with it, other causes possible), ``low`` (a hint);
- ``action``: what to change, in general terms first, then the reference
  worker's flag where one applies.

A rule without evidence says nothing: a healthy job of any size or
concurrency gets no finding, and ``recommendations`` is then one line saying
no problems were found. That line is never given for a job that raised, was
cut short, left declared items unstarted, or had failures no rule explains
(those get ``unexplained_failures``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .text import plural
from .view import JobView

CONFIDENCE = ("high", "medium", "low")


@dataclass(frozen=True)
class Finding:
    id: str
    cause: str
    action: str
    confidence: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.confidence not in CONFIDENCE:
            raise ValueError(f"confidence must be one of {', '.join(CONFIDENCE)}, not {self.confidence!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cause": self.cause, "evidence": self.evidence, "confidence": self.confidence,
                "action": self.action}

    def text(self) -> str:
        return f"{self.cause} {self.action}".strip()


Rule = Callable[[JobView], Iterable[Finding]]

#: Every rule, in the order findings are reported (most important first).
RULES: list[Rule] = []
#: Every finding id a rule may give, with a line saying what it means (for the README and the page).
FINDING_IDS: dict[str, str] = {}


def rule(*ids: tuple[str, str]) -> Callable[[Rule], Rule]:
    """Register a rule and the finding ids (with a one-line meaning) it may give."""

    def register(fn: Rule) -> Rule:
        for finding_id, meaning in ids:
            if finding_id in FINDING_IDS:
                raise ValueError(f"finding id {finding_id!r} is registered twice.")
            FINDING_IDS[finding_id] = meaning
        fn.finding_ids = tuple(i for i, _ in ids)  # type: ignore[attr-defined]
        RULES.append(fn)
        return fn

    return register


# Registration order is report order: the job's own life first, then who and what failed.
from . import (  # noqa: E402,F401
    rules_job, rules_network, rules_availability, rules_auth, rules_items, rules_content, rules_transport,
)
from .rules_job import unexplained  # noqa: E402

FINDING_IDS["unexplained_failures"] = (
    "attempts or items failed in a way no rule explains (given only when no other finding is)")


def diagnose(view: JobView) -> list[Finding]:
    """Every finding the rules give for this job, most important first."""
    findings: list[Finding] = []
    for fn in RULES:
        findings.extend(fn(view))
    findings.extend(unexplained(view, findings))
    return findings


def render(findings: list[Finding], view: JobView) -> list[str]:
    """The seed's ``recommendations``: one line per finding, or the one "no problems" line."""
    if findings:
        return [f.text() for f in findings]
    n, items = len(view.requests), len(view.items)
    if not n and not items:
        return ["Nothing was recorded for this job: no HTTP request and no item, so there is nothing to analyse."]
    p95 = (view.env.get("latency_ms") or {}).get("p95_ms")
    if p95 is None and view.requests:
        from ..analysis import latency_percentiles  # late: analysis imports this package

        p95 = latency_percentiles(view.requests).get("p95_ms")
    latency = f", p95 latency {p95:.0f} ms" if p95 is not None else ""
    return [f"No problems found: none of {plural(n, 'attempt')} or {plural(items, 'item')} failed{latency}."]
