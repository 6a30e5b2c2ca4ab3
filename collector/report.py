"""Plain-text rendering of a job summary for the CLI.

Findings are printed with their id, confidence, cause and action; a summary
without findings (a clean job, or a file of format version 1) prints its
recommendations instead.

Pure (summary dict in, text out) and free of colour codes so the output can be
piped or pasted into an issue. Lines stay within ``WIDTH`` columns. Reads the
summary with ``.get`` so job files written by older versions still render.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

WIDTH = 100
_LABEL = 18  # width of the label column in the figures table


def _num(value: Any, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}{suffix}" if suffix == "%" else f"{value:g}{suffix}"
    return f"{value}{suffix}"


def _wrap(text: str, indent: str, first: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first if first is not None else indent,
                         subsequent_indent=indent, break_on_hyphens=False) or [indent.rstrip()]


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{_num(n)} {word}s"


def render_text(summary: Mapping[str, Any]) -> str:
    """A readable report: the job's life, figures, status codes, failure patterns, findings."""
    title = f"Batch debug summary: job {summary.get('job_id')}"
    lines = [title, "=" * min(len(title), WIDTH)]
    lines += _figures(summary)
    lines += ["", "Status codes", *_status_codes(summary)]
    lines += ["", "Failure patterns", *_failure_patterns(summary)]
    lines += _findings(summary) if summary.get("findings") else _recommendations(summary)
    return "\n".join(lines) + "\n"


def _figures(s: Mapping[str, Any]) -> list[str]:
    """The table of figures: one wrapped row per label."""
    lines = []
    for label, value in _figure_rows(s):
        lines += _wrap(value, " " * _LABEL, f"{label:<{_LABEL}}")
    return lines


def _figure_rows(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows: how the job ended (when it did not end well), requests, items, latency, connections."""
    rows = [
        ("Debug enabled", "yes" if s.get("debug_enabled") else "no"),
        ("Duration", f"{_num(s.get('duration_seconds'))} s"),
        ("Requests", f"{_num(s.get('total_requests'))} total, {_num(s.get('successful_requests'))} ok, "
                     f"{_num(s.get('failed_requests'))} failed, {_num(s.get('other_requests', 0))} other "
                     f"({_num(s.get('success_rate_percent'), '%')} success)"),
        ("Retries", _num(s.get("retries"))),
        ("Items", f"{_num(s.get('items_total'))} total, {_num(s.get('items_succeeded'))} succeeded, "
                  f"{_num(s.get('items_failed'))} failed"
                  + (f", {s['items_unfinished']} unfinished" if s.get("items_unfinished") else "")
                  + (f", {s['items_not_started']} never started" if s.get("items_not_started") else "")
                  + f" ({_num(s.get('item_success_rate_percent'), '%')} success)"),
    ]
    error = s.get("job_error")
    if error:
        rows.insert(0, ("Job", f"stopped with {error.get('type') or 'an error'}: {error.get('message') or ''}"))
    elif s.get("complete") is False:
        rows.insert(0, ("Job", "cut short: the process stopped before the job ended"))
    lat = s.get("latency_ms") or {}
    if lat:
        rows.append(("Latency (ms)", "  ".join(
            f"{k.removesuffix('_ms')} {_num(lat.get(k))}"
            for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"))))
    conn = s.get("connections") or {}
    if conn:
        rows.append(("Connections", f"{_num(conn.get('new'))} new, {_num(conn.get('reused'))} reused, "
                                    f"{_num(conn.get('unknown'))} unknown "
                                    f"(new share {_num(conn.get('new_share_percent'), '%')})"))
    rows.append(("Sessions created", _num(s.get("sessions_created"))))
    rows.append(("Dropped spans", _num(s.get("dropped_spans", 0))))
    return rows


def _status_codes(s: Mapping[str, Any]) -> list[str]:
    """One line per status code, most frequent first (ties by key, so the order is stable)."""
    breakdown = s.get("status_code_breakdown") or {}
    if not breakdown:
        return ["  (no requests)"]
    keyw = max(len(k) for k in breakdown)
    return [f"  {key:<{keyw}}  {count:>6}" for key, count in sorted(breakdown.items(), key=lambda kv: (-kv[1], kv[0]))]


def _failure_patterns(s: Mapping[str, Any]) -> list[str]:
    """Each failure pattern: its counts and codes, its description, example items."""
    patterns = s.get("failure_patterns") or []
    if not patterns:
        return ["  (none)"]
    lines = []
    for p in patterns:
        codes = ", ".join(f"{k}: {v}" for k, v in (p.get("status_codes") or {}).items())
        head = (f"- {p.get('pattern')}: {_plural(p.get('count'), 'attempt')}, "
                f"{_plural(p.get('items_affected'), 'item')}, {p.get('recovered_items', 0)} recovered [{codes}]")
        lines += _wrap(head, "    ", "  ")
        lines += _wrap(str(p.get("description", "")), "    ")
        if p.get("example_item_ids"):
            lines += _wrap("e.g. " + ", ".join(p["example_item_ids"]), "    ")
    return lines


def _findings(s: Mapping[str, Any]) -> list[str]:
    """The numbered findings: id and confidence, cause, what to do."""
    lines = ["", "Findings"]
    for n, finding in enumerate(s.get("findings") or [], 1):
        lines += _wrap(f"{finding.get('id')} ({finding.get('confidence')} confidence)", "      ", f"  {n:>2}. ")
        lines += _wrap(str(finding.get("cause", "")), "      ")
        lines += _wrap("What to do: " + str(finding.get("action", "")), "      ")
    return lines


def _recommendations(s: Mapping[str, Any]) -> list[str]:
    """Without findings: the one "no problems" line, or the advice of a file written before findings existed."""
    recs = s.get("recommendations") or []
    lines = ["", "Recommendations"]
    for n, text in enumerate(recs, 1):
        lines += _wrap(text, "      ", f"  {n:>2}. ")
    return lines if recs else [*lines, "  (none)"]
