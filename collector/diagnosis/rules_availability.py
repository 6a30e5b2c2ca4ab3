"""Rules about the server side: outages, a server that went down, a proxy's answers, 5xx, rate limits.

Evidence keys of these findings (besides the common ones): ``kind``
(outage / down / never / late_start), ``signature`` (the window's common
outcome), ``recovered_items``, ``answered_by`` (who answered the failures:
``{jellyfin|proxy|unknown: n}``), ``last_success_ms``, ``first_failure_ms``,
``answers_under_way`` (answers inside the window to requests already in
flight when it began), ``page_title``, ``proxy_servers`` (Server headers of a proxy's answers),
``jellyfin_servers`` (Server headers of the successful answers),
``attempts_per_item``, ``other_items_ok`` (successful attempts of other
items), ``error_body``, ``retry_after``, ``requests_per_second``,
``peak_concurrency``; ``server_said``/``server_said_attempts`` come with the
common keys (``JobView.evidence``) and the causes quote the first message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from .. import attempts as R
from ..bodytext import gist, title_of
from . import Finding, rule
from .quotes import errors_said, quote, sentence, with_hint
from .text import counts, examples, listing, plural, seconds, verb
from .view import JobView, Record
from .windows import Window

_GATEWAY = frozenset({502, 503, 504})


def _answered_by(view: JobView, records: Sequence[Record]) -> dict[str, int]:
    return dict(Counter(view.answered_by_each(records)))


def _what(window: Window) -> str:
    statuses = Counter(R.status_key(r) for r in window.attempts)
    return counts(statuses)


@rule(("outage_window", "every attempt failed during one stretch of time across many items, then they worked again"),
      ("server_went_down", "attempts worked, then from one moment on every attempt failed until the job ended"),
      ("server_unavailable", "no attempt of the job got a working answer from the server"))
def failure_windows(view: JobView) -> Iterator[Finding]:
    for window in view.windows:
        if window.kind == "never":
            continue
        records = window.attempts
        if all(map(view.explained_elsewhere, records)):
            continue  # a certificate that expired mid-job is named by rules_network, not called an outage
        ids = view.item_ids(records)
        recovered = view.recovered(ids)
        base: dict[str, Any] = dict(kind=window.kind, signature=window.signature, recovered_items=len(recovered),
                    answered_by=_answered_by(view, records), answers_under_way=window.under_way)
        apart = (f" (apart from {plural(window.under_way, 'request')} already under way)"
                 if window.under_way else "")
        span = f"{seconds(window.start_ms)} and {seconds(window.end_ms)}"
        many = f"{plural(len(records), 'attempt')} across {plural(len(window.keys), 'item')}"
        quotes = view.said(records)
        told = sentence(quotes)
        if window.kind in ("outage", "late_start"):
            around = "before and after" if window.kind == "outage" else "after"
            retry = (f" {len(recovered)} of the {plural(len(ids), 'affected item')} succeeded on a later "
                     "attempt." if ids else "")
            yield Finding(
                "outage_window",
                f"Every attempt between {span} after the job began failed{apart} ({many}; {_what(window)}), while "
                f"attempts {around} that succeeded: the server side was unavailable for about "
                f"{seconds(window.end_ms - window.start_ms)}, which is not a problem of these items.{retry}{told}",
                with_hint("Look at what happened at that time in the Jellyfin log and in the log of any proxy in "
                          "front of it (a restart, upstream errors, host load). Retrying with a back-off longer "
                          "than the outage would have carried the items through (reference worker: raise "
                          "--max-attempts).", quotes),
                "high" if len(window.keys) >= 6 or base["answered_by"].get("proxy") else "medium",
                view.evidence(records, **base),
            )
        elif window.kind == "down":
            last_ok = max((float(r.get("start_offset_ms") or 0.0) for r in view.ok
                           if (r.get("start_offset_ms") or 0.0) < window.start_ms), default=0.0)
            yield Finding(
                "server_went_down",
                f"From {seconds(window.start_ms)} after the job began the server stopped answering: all "
                f"{many} after that failed{apart} ({_what(window)}) and none succeeded until the job ended; "
                f"before that, {plural(len(view.ok), 'attempt')} had succeeded.{told}",
                with_hint("Check whether Jellyfin, its container or its host stopped or restarted at that time "
                          "(and why: a crash, an update, out of memory), then rerun the items that failed once it "
                          "is up.", quotes),
                "high",
                view.evidence(records, last_success_ms=last_ok, first_failure_ms=window.start_ms, **base),
            )
    # An attempt whose error names its cause (TLS, DNS, no route) is rules_network's, not "unavailable".
    never = [r for w in view.windows if w.kind == "never" for r in w.attempts if not view.explained_elsewhere(r)]
    if never:
        # Nothing worked at all: one finding however many runs other answers (4xx) cut it into.
        # A refusal is a connect failure whose words say so (or that has none: an older file); a connection
        # reset in the handshake, or words that name nothing, are quoted rather than called a refusal.
        refused = sum(1 for r in never if R.is_refused(r) and (not r.get("error_message")
                                                                or view.network_cause(r) == "refused"))
        keys = list(dict.fromkeys(str(r.get("item_id") or r.get("url")) for r in never))
        quotes = view.said(never)
        told = sentence(quotes)
        errors, _ = errors_said(never)
        if errors and not quotes and refused * 2 <= len(never):
            told = f" The client said \u201c{errors[0]}\u201d."
        yield Finding(
            "server_unavailable",
            "No attempt of this job got a working answer: "
            + (f"all {len(never)} attempts across {plural(len(keys), 'item')}" if len(never) > 1 else "its one attempt")
            + " to reach the server failed "
            f"({counts(Counter(R.status_key(r) for r in never))})"
            + (": nothing accepted connections at the server's address." if refused * 2 > len(never) else ".")
            + told,
            with_hint("Check that Jellyfin is running and reachable at the URL the job uses (host, port, base "
                      "path, proxy), e.g. by opening /System/Info/Public in a browser from the job's host.", quotes),
            "high",
            view.evidence(never, kind="never", answered_by=_answered_by(view, never),
                          recovered_items=len(view.recovered(view.item_ids(never))),
                          **({"errors_said": errors} if errors else {})),
        )


@rule(("proxy_answered", "failed answers came from a reverse proxy (its own error page), not from Jellyfin"))
def proxy_answered(view: JobView) -> Iterator[Finding]:
    # "proxy" only for an answer (no answer is "unknown").
    records = [r for r, who in zip(view.failed, view.answered_by_each(view.failed)) if who == "proxy"]
    if not records:
        return
    servers = Counter(str(r.get("server")) for r in records if r.get("server"))
    titles = Counter(t for t in (title_of(r.get("error_body")) for r in records) if t)
    title = titles.most_common(1)[0][0] if titles else None
    quotes = view.said(records)
    shown = quotes[0].text if quotes else title  # the page's own words: its title and what it says
    ok_servers = sorted({str(r.get("server")) for r in view.ok if r.get("server")})
    statuses = Counter(int(r["status_code"]) for r in records)
    gateway = sum(n for s, n in statuses.items() if s in _GATEWAY) * 2 > len(records)
    page = f" (an HTML page: \u201c{shown}\u201d)" if shown else ""
    other = (f", not by the server that answered the other requests ({listing(ok_servers)})" if ok_servers
             else ", not by Jellyfin")
    n = len(records)
    why = ("the proxy in front of Jellyfin could not get an answer from it" if gateway
           else "a proxy refused these requests itself before Jellyfin saw them")
    by = listing(list(servers)) if servers else "a proxy that sends no Server header"
    yield Finding(
        "proxy_answered",
        f"{plural(n, 'failed answer')} ({counts({str(k): v for k, v in statuses.items()})}) "
        f"{verb(n, 'was', 'were')} given by {by}{page}{other}: {why}.",
        ("Read the proxy's error log for these times (upstream connect errors, timeouts, restarts) and "
         "check that Jellyfin was up; the items themselves are not at fault." if gateway else
         "Check the proxy's rules for these paths (authentication, body size, allowed methods) and its log."),
        "high" if title or servers else "medium",
        view.evidence(records, answered_by=_answered_by(view, records), proxy_servers=dict(servers),
                      page_title=title, jellyfin_servers=ok_servers),
    )


def _server_errors(view: JobView) -> list[Record]:
    """5xx answered by Jellyfin (or an unknown server), outside failure windows."""
    return [r for r in view.unexplained_by_windows(view.failed)
            if (r.get("status_code") or 0) >= 500 and not R.broke_in_body(r) and view.who_answered(r) != "proxy"]


@rule(("item_server_errors", "the server failed on particular items every time, while other items worked"),
      ("transient_server_errors", "5xx answers that went away when the request was tried again"))
def server_errors(view: JobView) -> Iterator[Finding]:
    records = _server_errors(view)
    if not records:
        return
    persistent: dict[str, list[Record]] = {}
    transient: list[Record] = []
    statuses = R.column(view.requests, "status_code")
    for r in records:
        item = str(r.get("item_id") or "")
        last = view.last_attempt.get(item)
        last_status = r.get("status_code") if last is None else statuses[last]
        if item and view.outcome.get(item) != "succeeded" and (last_status or 0) >= 500:
            persistent.setdefault(item, []).append(r)
        else:
            transient.append(r)
    for item, failures in list(persistent.items()):
        names_it = any(item.lower() in str(r.get("error_body") or "").lower() for r in failures)
        if len(failures) < 2 and not names_it:
            # Tried once, and the answer does not name the item: nothing shows it would fail again.
            transient.extend(persistent.pop(item))
    if persistent:
        bad = [r for rs in persistent.values() for r in rs]
        per_item = {i: len(rs) for i, rs in persistent.items()}
        body = next((gist(r["error_body"]) for r in bad if r.get("error_body")), None)
        quotes = view.said(bad)
        fewest = min(per_item.values())
        others_ok = sum(1 for i in R.column(view.ok, "item_id") if str(i or "") not in persistent)
        n = len(persistent)
        codes = listing(sorted({R.status_key(r) for r in bad}))
        each = fewest if fewest == max(per_item.values()) else f"{fewest} or more"
        said = f"; {quote(quotes)}" if quotes else ""
        if others_ok:
            cause = (f"{plural(n, 'item')} got {codes} on every attempt ({each} each, never a success) while "
                     f"{plural(others_ok, 'attempt')} for other items succeeded around them: the server fails on "
                     f"{verb(n, 'this item', 'these items')} specifically{said}.")
        else:
            cause = (f"{plural(n, 'item')} got {codes} on every attempt ({each} each){said}. No other item was "
                     "tried, so whether the server fails on every item is not known.")
        yield Finding(
            "item_server_errors",
            cause,
            with_hint(f"Look up {examples(list(persistent))} in the Jellyfin server log at these times to see "
                      "why it fails on them (a damaged image or metadata file is common: refresh the item's "
                      "images in Jellyfin, or leave the item out).", quotes),
            "high" if others_ok else "medium",
            view.evidence(bad, attempts_per_item=per_item, error_body=body, other_items_ok=others_ok),
        )
    if transient:
        ids = view.item_ids(transient)
        recovered = view.recovered(ids)
        n = len(transient)
        quotes = view.said(transient)
        told = sentence(quotes)
        tail = (f"{len(recovered)} of the {plural(len(ids), 'item')} concerned succeeded on a later attempt"
                if recovered else
                f"the job did not try {verb(len(ids), 'this item', 'these items')} again, so whether "
                f"{verb(len(ids), 'it', 'they')} would have worked is not known")
        yield Finding(
            "transient_server_errors",
            f"{plural(n, 'attempt')} got {listing(sorted({R.status_key(r) for r in transient}))} from the server "
            f"now and then, among answers that worked; {tail}: the server failed briefly, as under load.{told}",
            with_hint("Nothing to change while this stays rare and retries recover; if it grows, lower the "
                      "concurrency or the request rate (reference worker: --concurrency, --min-interval).", quotes),
            "medium",
            view.evidence(transient, recovered_items=len(recovered)),
        )


def _seconds_first(value: str) -> tuple[bool, float, str]:
    """Retry-After values in order: numbers of seconds by value, then dates as text."""
    try:
        return False, float(value), value
    except ValueError:
        return True, 0.0, value


@rule(("rate_limited", "the server (or a proxy) refused requests with 429 Too Many Requests"))
def rate_limited(view: JobView) -> Iterator[Finding]:
    records = [r for r in view.failed if r.get("status_code") == 429]
    if not records:
        return
    waits = sorted({str(r["retry_after"]) for r in records if r.get("retry_after")}, key=_seconds_first)
    seconds_run = max(view.end_ms / 1000, 0.001)
    rate = round(len(view.requests) / seconds_run, 1)
    ids = view.item_ids(records)
    recovered = view.recovered(ids)
    asked = f" (Retry-After: {', '.join(waits)} s)" if waits else ""
    n = len(records)
    yield Finding(
        "rate_limited",
        f"{plural(n, 'attempt')} {verb(n, 'was', 'were')} refused with 429 Too Many Requests{asked} while the "
        f"job sent about {rate} requests/s with up to {view.peak_concurrency} at once; "
        f"{len(recovered)} of the {plural(len(ids), 'item')} concerned succeeded later.",
        "Send fewer requests at once and space them out, and wait as long as Retry-After says before "
        "retrying; if a proxy does the limiting, its limit is in its configuration (reference worker: "
        "--min-interval 0.5, --concurrency 1).",
        "high",
        view.evidence(records, retry_after=waits, requests_per_second=rate, peak_concurrency=view.peak_concurrency,
                      recovered_items=len(recovered)),
    )
