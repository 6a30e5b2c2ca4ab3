"""Synthetic request and item records for the diagnosis tests (import with ``from diagnosis_records import ...``).

The records carry the keys ``collector/analysis.py`` documents; times are
milliseconds since the job began. ``run`` lays attempts out one after
another (no overlap), ``concurrent`` in lanes that overlap, and ``Job``
diagnoses them through the public entry point ``analysis.diagnose``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from batch_debug.collector.analysis import diagnose
from batch_debug.collector.attempts import succeeded

Record = dict[str, Any]

IMAGE = "/Items/{itemId}/Images/{imageType}"  # Jellyfin serves it without a key
ITEM = "/Items/{itemId}"  # needs a key
KESTREL = "Kestrel"
NGINX = "nginx/1.25.3"
NGINX_502_PAGE = "502 Bad Gateway\nnginx/1.25.3"
MIB = 1 << 20


def attempt(item_id: str | None, status: int | None = 200, *, route: str = IMAGE, **extra: Any) -> Record:
    """One HTTP attempt (``connection_reused`` unknown unless given); ``run`` / ``concurrent`` give it its
    time and attempt number."""
    path = f"/Items/{item_id}/Images/Primary" if route == IMAGE else f"/Items/{item_id}"
    record: Record = {
        "item_id": item_id, "method": "GET", "url": f"http://jf:8096{path}", "route": route,
        "status_code": status, "error_type": None,
        "server": KESTREL if status is not None else None, "ttfb_ms": 20.0 if status is not None else None,
    }
    record.update(extra)
    return record


def broken(item_id: str, error_type: str, phase: str, **extra: Any) -> Record:
    """An attempt that got no answer (``error_phase`` pool, connect, send or headers); whether its
    connection was reused is unknown unless given."""
    return attempt(item_id, None, error_type=error_type, error_phase=phase, **{"connection_reused": None, **extra})


def keyed(item_id: str, status: int, fp: str | None = "fp1", form: str = "authorization", **extra: Any) -> Record:
    """An attempt on a route that needs the API key, sent as ``form`` with fingerprint ``fp``."""
    return attempt(item_id, status, route=ITEM, credential_fp=fp, credential_form=form if fp else None, **extra)


def _numbered(records: Iterable[Record]) -> list[Record]:
    seen: dict[str, int] = {}
    out = []
    for record in records:
        key = str(record.get("item_id"))
        seen[key] = seen.get(key, 0) + 1
        out.append({"attempt": seen[key], **record})
    return out


def run(*records: Record, step_ms: float = 100.0, duration_ms: float = 50.0, start_ms: float = 0.0) -> list[Record]:
    """The attempts one after another, ``step_ms`` apart, numbered per item (peak concurrency 1)."""
    return [{"start_offset_ms": start_ms + i * step_ms, "duration_ms": duration_ms, **r}
            for i, r in enumerate(_numbered(records))]


def concurrent(records: Sequence[Record], lanes: int, *, step_ms: float = 100.0,
               duration_ms: float = 90.0) -> list[Record]:
    """The attempts ``lanes`` at a time (all of a batch in flight together); each lane opens one
    connection and reuses it (unless a record says otherwise)."""
    return [{"connection_reused": i >= lanes, **r, "start_offset_ms": (i // lanes) * step_ms + (i % lanes),
             "duration_ms": duration_ms}
            for i, r in enumerate(_numbered(records))]


def items_of(requests: Iterable[Record], *, failed: Iterable[str] = (), error: str | None = None) -> list[Record]:
    """An item record per item: it succeeded when its last attempt did, unless listed in ``failed``."""
    last: dict[str, Record] = {}
    first: dict[str, float] = {}
    for r in requests:
        if r.get("item_id"):
            last[r["item_id"]] = r
            first.setdefault(r["item_id"], r.get("start_offset_ms") or 0.0)
    forced = set(failed)
    return [item(i, succeeded(r) and i not in forced, error=error, start_offset_ms=first[i])
            for i, r in last.items()]


def item(item_id: str, ok: bool = True, *, error: str | None = None, start_offset_ms: float = 0.0) -> Record:
    return {"item_id": item_id, "outcome": "succeeded" if ok else "failed",
            "error": None if ok else (error or "download failed"), "duration_ms": 60.0,
            "start_offset_ms": start_offset_ms}


def healthy(n: int = 200, lanes: int = 8) -> list[Record]:
    """A job with nothing wrong: ``n`` posters of 200 KB, ``lanes`` at once, fast answers."""
    return concurrent([attempt(f"i{k:03d}", body_bytes=200_000, body_ms=10.0) for k in range(n)], lanes)


def common(attempts: int, item_ids: Sequence[str], window: tuple[float, float] | None,
           status_codes: dict[str, int], servers: dict[str, int] | None = None, *, items: int | None = None,
           said: dict[str, int] | None = None) -> Record:
    """The evidence keys every finding has (``JobView.evidence``); ``said``: message -> attempts, most first
    (``server_said`` and ``server_said_attempts``, there when failed answers carried a body)."""
    found = {"attempts": attempts, "items": len(item_ids) if items is None else items,
             "example_item_ids": list(item_ids)[:5],
             "window_ms": {"start": window[0], "end": window[1]} if window else None,
             "status_codes": status_codes, "servers": servers or {}}
    if said:
        found.update(server_said=list(said), server_said_attempts=list(said.values()))
    return found


@dataclass
class Job:
    """Records of one job, diagnosed through ``analysis.diagnose``."""

    requests: list[Record]
    items: list[Record] | None = None  # default: items_of(requests)
    life: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    sessions_created: int | None = None

    def diagnose(self) -> tuple[list[Record], list[str]]:
        items = items_of(self.requests) if self.items is None else self.items
        return diagnose(self.requests, items, life=self.life, env=self.env, sessions_created=self.sessions_created)

    @property
    def findings(self) -> list[Record]:
        return self.diagnose()[0]

    @property
    def ids(self) -> list[str]:
        return [f["id"] for f in self.findings]

    def finding(self, finding_id: str) -> Record:
        """The one finding with this id (fails the test when there is none or more than one)."""
        found = [f for f in self.findings if f["id"] == finding_id]
        assert len(found) == 1, f"expected one {finding_id}, got {[f['id'] for f in self.findings]}"
        return found[0]


#: Wrong number forms in finding text: "1 items", "2 item", "item(s)", "1 item were", "3 items was",
#: "1 of which are".
_NOUNS = "item|attempt|request|answer|download|retry|client|connection"
BAD_FORMS = [
    re.compile(r"(?<![\d.,])\b1 (?:[A-Za-z]+ )?(?:items|attempts|requests|answers|downloads|retries|clients"
               r"|connections|item ids)\b"),
    re.compile(rf"(?<![\d.,])\b(?:0|[2-9]|[1-9]\d+) (?:[A-Za-z]+ )?(?:{_NOUNS})(?![\w(]| id)"),
    re.compile(r"\w\(s\)"),
    re.compile(r"(?<![\d.,])\b1 (?:[A-Za-z]+ ){1,2}were\b"),
    re.compile(r"(?<![\d.,])\b(?:0|[2-9]|[1-9]\d+) [A-Za-z]+s (?:[A-Za-z]+ )?was\b"),
    re.compile(r"(?<![\d.,])\b1 of which are\b"),
]


def bad_forms(text: str) -> list[str]:
    return [m.group(0) for pattern in BAD_FORMS for m in pattern.finditer(text)]


Case = Callable[[], Job]


def case(*fires: str) -> Callable[[Case], Case]:
    """Mark a function building a ``Job`` as a case in which the ids ``fires`` fire (none: a near miss)."""

    def mark(fn: Case) -> Case:
        fn.fires = fires  # type: ignore[attr-defined]
        return fn

    return mark


def cases_in(module: ModuleType) -> list[Case]:
    """The cases a test module marked with :func:`case`."""
    return [fn for fn in vars(module).values() if callable(fn) and hasattr(fn, "fires")]
