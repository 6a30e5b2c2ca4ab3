"""Two runs of a job side by side: what changed from ``base`` (it worked) to ``head`` (it fails).

Usage::

    found = compare(jobfile.load_head(base_path), jobfile.load_head(head_path))
    found["changes"]          # one sentence per change, the biggest first
    print(render_text(found))

Pure functions over two job-file *heads* (``jobfile.load_head``: everything
but the requests and spans), so comparing two 100k-request jobs reads two
small heads, never their requests: each item record in the head carries its
``final_status`` and ``attempts`` (``item_columns.HeadItems``, by the rule of
``document.item_finals``). A head written before those existed compares the
same, with the items' statuses unknown.

What it reports: item and request success rates and their change (in
percentage points); the status mix; findings and failure patterns that
appeared or disappeared; latency percentiles; the answering server (its
name and version from ``/System/Info/Public``, the ``Server`` headers, the
HTTP versions); connection behaviour (share of new connections, sessions
created); items that flipped (ok -> failed, failed -> ok) with the status
each run's last attempt got; items only in one of the two runs.

Choosing what to compare with (:func:`pick_base`): the newest earlier run
of the same job id; else of the same id once a trailing run suffix (digits
or a date after the last ``-``, ``_`` or ``.``) is removed; else the newest
earlier job in which no item failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Head = Mapping[str, Any]

#: Most item ids listed per group (flipped, only in one); the counts are always whole.
MAX_LISTED = 1000
PERCENTILES = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
_SUFFIX = re.compile(r"^(?P<stem>.+?)[-_.](?:\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}:?\d{2}(?::?\d{2})?)?|\d+)$")


# -- choosing the base -------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One job file as :func:`pick_base` needs it (``items_failed`` None when unknown)."""

    name: str
    job_id: str
    created_at: datetime
    items_failed: int | None = None


def run_stem(job_id: str) -> str:
    """``job_id`` without a trailing run suffix: ``nightly-20261128`` and ``nightly.42`` -> ``nightly``."""
    match = _SUFFIX.match(job_id)
    return match["stem"] if match else job_id


def pick_base(head: Run, runs: Sequence[Run]) -> tuple[Run | None, str]:
    """The run to compare ``head`` with, and why it was chosen (a sentence); ``(None, why not)``."""
    earlier = sorted((r for r in runs if r.created_at < head.created_at and r.name != head.name),
                     key=lambda r: (r.created_at, r.name), reverse=True)
    for run in earlier:
        if run.job_id == head.job_id:
            return run, f"the previous run of job {head.job_id}"
    stem = run_stem(head.job_id)
    for run in earlier:
        if run_stem(run.job_id) == stem:
            return run, f"the previous run of {stem} (job ids without their run suffix match)"
    for run in earlier:
        if run.items_failed == 0:
            return run, "the newest earlier job in which no item failed"
    return None, f"no earlier run of job {head.job_id}, and no earlier job in which every item succeeded"


# -- the comparison ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _delta(base: Any, head: Any, digits: int = 1) -> float | None:
    b, h = _number(base), _number(head)
    return round(h - b, digits) if b is not None and h is not None else None


def _rate(base_summary: Mapping[str, Any], head_summary: Mapping[str, Any], key: str,
          total_key: str) -> dict[str, Any]:
    return {"base_percent": base_summary.get(key), "head_percent": head_summary.get(key),
            "change_points": _delta(base_summary.get(key), head_summary.get(key)),
            "base_total": base_summary.get(total_key), "head_total": head_summary.get(total_key)}


def _status_mix(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[dict[str, Any]]:
    b_total, h_total = sum(base.values()) or 1, sum(head.values()) or 1
    rows = []
    for key in sorted(set(base) | set(head), key=lambda k: (not k.isdigit(), k)):
        b, h = int(base.get(key, 0)), int(head.get(key, 0))
        rows.append({"status": key, "base": b, "head": h,
                     "base_share_percent": round(100 * b / b_total, 1), "head_share_percent": round(100 * h / h_total, 1),
                     "change_points": round(100 * h / h_total - 100 * b / b_total, 1)})
    return rows


def _appeared(base: Sequence[Any], head: Sequence[Any], key: str, text: str) -> dict[str, list[dict[str, Any]]]:
    def index(entries: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
        return {str(e.get(key)): e for e in entries if isinstance(e, Mapping) and e.get(key)}

    def brief(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {key: entry.get(key), text: entry.get(text), "count": entry.get("count")}

    b, h = index(base), index(head)
    return {"appeared": [brief(h[k]) for k in h if k not in b],
            "disappeared": [brief(b[k]) for k in b if k not in h],
            "in_both": [brief(h[k]) for k in h if k in b]}


def _latency(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    rows = {}
    for key in PERCENTILES:
        b, h = _number(base.get(key)), _number(head.get(key))
        rows[key] = {"base": b, "head": h, "change_ms": _delta(b, h, 2),
                     "change_percent": round(100 * (h - b) / b, 1) if b and h is not None else None}
    return rows


def _server(base_env: Mapping[str, Any], head_env: Mapping[str, Any]) -> dict[str, Any]:
    changes, unknown = [], []
    b_info, h_info = base_env.get("server_info") or {}, head_env.get("server_info") or {}
    for field, what in (("ProductName", "product"), ("ServerName", "name"), ("Version", "version")):
        b, h = b_info.get(field), h_info.get(field)
        if b and h and b != h:
            changes.append({"what": what, "base": b, "head": h})
        elif bool(b) != bool(h):
            # Unknown is not changed: the server-info probe failed in one run (its error is in the file).
            unknown.append({"what": what, "base": b, "head": h})
    for field, what in (("server_headers", "Server header"), ("http_versions", "HTTP version")):
        b_seen, h_seen = base_env.get(field) or {}, head_env.get(field) or {}
        if set(b_seen) != set(h_seen):
            changes.append({"what": what, "base": dict(b_seen), "head": dict(h_seen),
                            "new": sorted(set(h_seen) - set(b_seen)), "gone": sorted(set(b_seen) - set(h_seen))})
    return {"changed": bool(changes), "changes": changes, "unknown": unknown,
            "base": {"version": b_info.get("Version"), "server_headers": base_env.get("server_headers") or {},
                     "http_versions": base_env.get("http_versions") or {}},
            "head": {"version": h_info.get("Version"), "server_headers": head_env.get("server_headers") or {},
                     "http_versions": head_env.get("http_versions") or {}}}


def _connections(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    b, h = base.get("connections") or {}, head.get("connections") or {}
    return {"base_new_share_percent": b.get("new_share_percent"), "head_new_share_percent": h.get("new_share_percent"),
            "change_points": _delta(b.get("new_share_percent"), h.get("new_share_percent")),
            "base_sessions_created": base.get("sessions_created"), "head_sessions_created": head.get("sessions_created")}


def _items(base: Sequence[Any], head: Sequence[Any]) -> dict[str, Any]:
    def index(items: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
        return {str(i["item_id"]): i for i in items if isinstance(i, Mapping) and i.get("item_id") is not None}

    b, h = index(base), index(head)
    to_failed, to_ok = [], []
    for item_id, now in h.items():
        before = b.get(item_id)
        if before is None or before.get("outcome") == now.get("outcome"):
            continue
        row = {"item_id": item_id, "base_status": before.get("final_status"), "head_status": now.get("final_status"),
               "base_attempts": before.get("attempts"), "head_attempts": now.get("attempts")}
        if now.get("outcome") == "failed":
            to_failed.append({**row, "head_error": now.get("error")})
        elif now.get("outcome") == "succeeded":
            to_ok.append({**row, "base_error": before.get("error")})
    only_base = [i for i in b if i not in h]
    only_head = [i for i in h if i not in b]
    return {"ok_to_failed": to_failed[:MAX_LISTED], "ok_to_failed_count": len(to_failed),
            "failed_to_ok": to_ok[:MAX_LISTED], "failed_to_ok_count": len(to_ok),
            "only_in_base": only_base[:MAX_LISTED], "only_in_base_count": len(only_base),
            "only_in_head": only_head[:MAX_LISTED], "only_in_head_count": len(only_head),
            "in_both_count": sum(1 for i in h if i in b)}


def _job(head: Head, name: str | None) -> dict[str, Any]:
    summary = head.get("summary") or {}
    return {"job_id": head.get("job_id"), "file": name, "started_at": head.get("started_at"),
            "complete": head.get("complete"), "items_total": summary.get("items_total"),
            "total_requests": summary.get("total_requests")}


def compare(base: Head, head: Head, *, base_name: str | None = None, head_name: str | None = None) -> dict[str, Any]:
    """Everything that changed from ``base`` to ``head`` (see the module doc), with ``changes``:
    one sentence per notable change, the ones that explain failures first."""
    bs, hs = base.get("summary") or {}, head.get("summary") or {}
    be, he = base.get("environment") or {}, head.get("environment") or {}
    found = {
        "base": _job(base, base_name), "head": _job(head, head_name),
        "items": _rate(bs, hs, "item_success_rate_percent", "items_total"),
        "requests": _rate(bs, hs, "success_rate_percent", "total_requests"),
        "status_mix": _status_mix(bs.get("status_code_breakdown") or {}, hs.get("status_code_breakdown") or {}),
        "findings": _appeared(bs.get("findings") or [], hs.get("findings") or [], "id", "cause"),
        "failure_patterns": _appeared(bs.get("failure_patterns") or [], hs.get("failure_patterns") or [],
                                      "pattern", "description"),
        "latency_ms": _latency(bs.get("latency_ms") or {}, hs.get("latency_ms") or {}),
        "server": _server(be, he),
        "connections": _connections(bs, hs),
        "flipped": _items(base.get("items") or [], head.get("items") or []),
    }
    found["changes"] = _changes(found)
    return found


def _changes(found: Mapping[str, Any]) -> list[str]:
    said = []
    items, flipped = found["items"], found["flipped"]
    if items["change_points"]:
        said.append(f"Item success rate {items['base_percent']}% -> {items['head_percent']}% "
                    f"({items['change_points']:+} points).")
    for change in found["server"]["changes"]:
        if "new" in change:
            parts = [f"new: {', '.join(change['new'])}"] if change["new"] else []
            parts += [f"gone: {', '.join(change['gone'])}"] if change["gone"] else []
            said.append(f"{change['what']} changed ({'; '.join(parts)}).")
        else:
            said.append(f"Server {change['what']} changed from {change['base']} to {change['head']}.")
    for run, side in (("this run", "head"), ("the base run", "base")):
        gaps = [gap["what"] for gap in found["server"]["unknown"] if gap[side] is None]
        if gaps:
            said.append(f"Server {', '.join(gaps)} unknown in {run} (its server-info request failed), "
                        f"so not compared.")
    for entry in found["findings"]["appeared"]:
        said.append(f"New finding {entry['id']}.")
    for entry in found["findings"]["disappeared"]:
        said.append(f"Finding {entry['id']} is gone.")
    for row in found["status_mix"]:
        if abs(row["change_points"]) >= 5 and row["status"] != "200":
            said.append(f"Status {row['status']}: {row['base_share_percent']}% -> {row['head_share_percent']}% "
                        f"of attempts.")
    if flipped["ok_to_failed_count"]:
        said.append(f"{flipped['ok_to_failed_count']} item(s) went from ok to failed.")
    if flipped["failed_to_ok_count"]:
        said.append(f"{flipped['failed_to_ok_count']} item(s) went from failed to ok.")
    connections = found["connections"]
    if connections["change_points"] is not None and abs(connections["change_points"]) >= 10:
        said.append(f"New connections: {connections['base_new_share_percent']}% -> "
                    f"{connections['head_new_share_percent']}% of attempts.")
    p50 = found["latency_ms"]["p50_ms"]
    if p50["change_percent"] is not None and abs(p50["change_percent"]) >= 50 and abs(p50["change_ms"] or 0) >= 5:
        said.append(f"Median latency {p50['base']} ms -> {p50['head']} ms.")
    if flipped["only_in_base_count"] or flipped["only_in_head_count"]:
        said.append(f"{flipped['only_in_base_count']} item(s) only in the base run, "
                    f"{flipped['only_in_head_count']} only in this run.")
    return said or ["Nothing notable changed."]


def render_text(found: Mapping[str, Any], *, max_items: int = 20) -> str:
    """The comparison as ``batch-debug compare`` prints it."""
    base, head = found["base"], found["head"]
    lines = [f"base: {base['job_id']} ({base['file'] or '?'}, started {base['started_at']})",
             f"head: {head['job_id']} ({head['file'] or '?'}, started {head['started_at']})", "",
             "What changed:"]
    lines += [f"  - {sentence}" for sentence in found["changes"]]
    lines.append("")
    for key, label in (("items", "items"), ("requests", "requests")):
        rate = found[key]
        lines.append(f"{label:<9} success {rate['base_percent']}% of {rate['base_total']} -> "
                     f"{rate['head_percent']}% of {rate['head_total']}")
    lines.append("status    " + ", ".join(f"{r['status']}: {r['base']} -> {r['head']}" for r in found["status_mix"]))
    p = found["latency_ms"]
    lines.append("latency   " + ", ".join(f"{k[:-3]} {p[k]['base']} -> {p[k]['head']} ms" for k in ("p50_ms", "p95_ms")))
    c = found["connections"]
    lines.append(f"new conns {c['base_new_share_percent']}% -> {c['head_new_share_percent']}%")
    flipped = found["flipped"]
    for key, label, before, after in (("ok_to_failed", "ok -> failed", "base_status", "head_status"),
                                      ("failed_to_ok", "failed -> ok", "base_status", "head_status")):
        rows = flipped[key]
        if rows:
            lines.append(f"{label} ({flipped[key + '_count']}):")
            lines += [f"  {r['item_id']}  {r[before]} -> {r[after]}" for r in rows[:max_items]]
            if flipped[key + "_count"] > max_items:
                lines.append(f"  ... and {flipped[key + '_count'] - max_items} more (--json lists up to {MAX_LISTED})")
    return "\n".join(lines)
