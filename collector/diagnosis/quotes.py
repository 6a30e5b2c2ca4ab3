"""What the server said: the readable texts of failed answers, quoted in findings.

A failed answer's body is often the most useful line of a job:
``System.IO.IOException: Input/output error reading '/config/...'``.
Records carry it already redacted and readable (``error_body``: an HTML
page reduced to its text, at most 2 KB). :func:`said` reduces each to its
message (:func:`~batch_debug.collector.bodytext.gist`: a problem document's
``detail``, a page's title and text, a trace's message lines; at most
``QUOTE_LIMIT`` characters), groups identical messages across attempts and
items, and keeps the ``MAX_QUOTES`` most frequent. Each message keeps who
gave it (``JobView.who_answered``), so a proxy's error page is never quoted
as Jellyfin's words.

Usage::

    quotes = said(records, view.who_answered)   # [Said], most frequent first
    evidence(quotes)    # {"server_said": [text, ...], "server_said_attempts": [n, ...]}, or {}
    quote(quotes)       # 'Jellyfin answered “…” (3 attempts)', or ""
    sentence(quotes)    # ' Jellyfin answered “…” (3 attempts).', to append to a cause, or ""
    with_hint(action, quotes)   # the action, led by what the text names (a file, an I/O error...)

Pure: no I/O; the texts are quoted as recorded (redaction happened when
the record was made, before any text is cut here).
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..attempts import column
from ..bodytext import gist
from ..net_errors import essence
from .text import listing, plural

#: Most distinct messages quoted per finding, and most characters of each.
MAX_QUOTES = 3
QUOTE_LIMIT = 200

#: What a message names, most specific first: (pattern, what it is, what to check on the host that answered).
_KINDS = (
    (re.compile(r"no space left|disk (?:is )?full|not enough (?:disk )?space", re.I), "a full disk",
     "free space on that disk on the {host} host"),
    (re.compile(r"read-only file system", re.I), "a read-only file system",
     "find out why that file system on the {host} host is read-only (often: remounted after disk errors)"),
    (re.compile(r"permission denied|access (?:to the path .*)?is denied|unauthorizedaccess", re.I),
     "a permission error", "check that the user the {runs_as} runs as may read it"),
    (re.compile(r"filenotfound|directorynotfound|could not find (?:a part of )?the (?:file|path)|no such file",
                re.I), "a missing file", "refresh the item's metadata and images (or restore the file)"),
    (re.compile(r"input/output error|\bi/o error|\bEIO\b|ioexception", re.I), "an I/O error",
     "check that disk or network share on the {host} host (its health, the kernel log)"),
)
_QUOTED_PATH = re.compile(r"""['"\u2018\u201c]((?:/|[A-Za-z]:\\)[^'"\u2019\u201d]+)['"\u2019\u201d]""")
_BARE_PATH = re.compile(r"(?<![\w.:/\\])(/[\w.@%+~-]+(?:/[\w.@%+~-]+)+)")
_EXCEPTION = re.compile(r"\b((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Exception|Error))\b")


@dataclass(frozen=True)
class Said:
    """One message the failed answers gave: how many attempts and items gave it, and who answered."""

    text: str
    attempts: int
    items: int
    by: str  # jellyfin | proxy | unknown (the most common among the attempts that gave it)
    servers: tuple[str, ...]  # their Server headers


def said(records: Iterable[Mapping[str, Any]], who: Callable[[Mapping[str, Any]], str]) -> list[Said]:
    """The ``MAX_QUOTES`` most frequent messages of the failed answers among ``records`` (most first)."""
    records = records if isinstance(records, Sequence) else list(records)
    # Read by column: a job of 100,000 failures has a handful of distinct answers, each judged once.
    ids, servers = column(records, "item_id"), column(records, "server")
    answers: dict[tuple[Any, Any, Any], list[int]] = {}
    for index, (body, status, server, content_type) in enumerate(zip(
            column(records, "error_body"), column(records, "status_code"), servers, column(records, "content_type"))):
        if body and (status or 0) >= 400:
            answers.setdefault((body, server, content_type), []).append(index)
    groups: dict[str, list[tuple[str, int]]] = {}
    for (body, _, _), group in answers.items():
        text = gist(body, QUOTE_LIMIT)
        if text:
            speaker = who(records[group[0]])
            groups.setdefault(text, []).extend((speaker, i) for i in group)
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MAX_QUOTES]
    found = []
    for text, members in ranked:
        items = {str(ids[i]) for _, i in members if ids[i]}
        by = Counter(speaker for speaker, _ in members).most_common(1)[0][0]
        named = tuple(dict.fromkeys(str(servers[i]) for _, i in members if servers[i]))
        found.append(Said(text, len(members), len(items), by, named))
    return found


def evidence(quotes: Sequence[Said]) -> dict[str, Any]:
    """The evidence keys: ``server_said`` (the messages) and ``server_said_attempts`` (how many gave each)."""
    if not quotes:
        return {}
    return {"server_said": [q.text for q in quotes], "server_said_attempts": [q.attempts for q in quotes]}


def speaker(quote: Said) -> str:
    """Who gave a message, as a sentence starts: ``Jellyfin``, ``the proxy (nginx/1.25.3)``, ``the server``."""
    if quote.by == "jellyfin":
        return "Jellyfin"
    if quote.by == "proxy":
        return f"the proxy ({listing(list(quote.servers))})" if quote.servers else "a proxy"
    return "the server"


def quote(quotes: Sequence[Said]) -> str:
    """The first message quoted in a clause: 'Jellyfin answered “…” (3 attempts)'; "" with none."""
    if not quotes:
        return ""
    first = quotes[0]
    times = plural(first.attempts, "attempt") + (f" for {plural(first.items, 'item')}" if first.items > 1 else "")
    others = len(quotes) - 1
    more = f", and {plural(others, 'other message')} (evidence: server_said)" if others else ""
    return f"{speaker(first)} answered \u201c{first.text}\u201d ({times}){more}"


def sentence(quotes: Sequence[Said]) -> str:
    """:func:`quote` as a sentence of its own, with a leading space (to append to a cause), or ""."""
    said_so = quote(quotes)
    return f" {said_so[:1].upper()}{said_so[1:]}." if said_so else ""


def _where(texts: Sequence[str]) -> str:
    paths = list(dict.fromkeys(m for t in texts for m in
                               [*(p.group(1) for p in _QUOTED_PATH.finditer(t)),
                                *(p.group(1) for p in _BARE_PATH.finditer(t))]))
    if not paths:
        return ""
    if len(paths) == 1:
        return f" at \u2018{paths[0]}\u2019"
    module = ntpath if all(re.match(r"[A-Za-z]:\\", p) for p in paths) else posixpath
    try:
        common = module.commonpath(paths)
    except ValueError:  # mixed kinds of path: nothing in common to name
        return ""
    return f" in files under \u2018{common}\u2019" if common not in ("", "/", "\\") else ""


def hint(quotes: Sequence[Said]) -> str:
    """A sentence saying what the messages name (a kind of file error, where, or an exception), or ""."""
    if not quotes:
        return ""
    first = quotes[0]
    who = speaker(first)
    who = who[0].upper() + who[1:]
    host = "proxy's" if first.by == "proxy" else "Jellyfin"
    runs_as = "proxy" if first.by == "proxy" else "Jellyfin server"
    for pattern, kind, advice in _KINDS:
        alike = [q.text for q in quotes if pattern.search(q.text)]
        if alike:
            todo = advice.format(host=host, runs_as=runs_as)
            return f"{who} reports {kind}{_where(alike)}: {todo}."
    named = _EXCEPTION.search(first.text)
    if named:
        return f"{who} reports {named.group(1)}: its log at these times has the stack trace."
    return ""


def with_hint(action: str, quotes: Sequence[Said]) -> str:
    """``action`` led by :func:`hint` when the messages name something to check."""
    found = hint(quotes)
    return f"{found} {action}" if found else action


#: Most distinct error messages quoted (``errors_said``), and most characters of each.
ERROR_QUOTES, ERROR_QUOTE_CHARS = 3, 160


def errors_said(records: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[int]]:
    """What the client said of attempts that got no answer: the most frequent errors' telling words
    (``net_errors.essence`` of their ``error_message``), and how many attempts gave each."""
    found = Counter(essence(str(m), ERROR_QUOTE_CHARS) for m in column(list(records), "error_message") if m)
    top = found.most_common(ERROR_QUOTES)
    return [str(text) for text, _ in top], [n for _, n in top]
