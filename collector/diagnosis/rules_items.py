"""Rules about the items themselves: ids that are no Jellyfin ids, items that no longer exist, a wrong base URL.

Evidence keys of these findings (besides the common ones): ``malformed_ids``
(ids that are not 32 hex digits or a dashed GUID), ``routes`` (route -> attempts),
``probe_error`` (what ``/System/Info/Public`` answered), ``error_body``; ``server_said`` and
``server_said_attempts`` come with the common keys, and the 400/4xx causes quote the first message.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from .. import attempts as R
from ..bodytext import gist
from . import Finding, rule
from .quotes import quote, sentence, with_hint
from .text import counts, examples, listing, plural, verb
from .view import JobView

_GUID = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})$")


def _everything_404(view: JobView) -> bool:
    statuses = R.column(view.requests, "status_code")
    answered = len(statuses) - statuses.count(None)
    return bool(answered) and statuses.count(404) == answered


def _probe_404(view: JobView) -> bool:
    probe = view.env.get("server_info_error")
    return probe is not None and "404" in str(probe)


def _url_suspect(view: JobView) -> bool:
    """Every answer was 404 and nothing shows the URL reaches Jellyfin's API: its public info did not
    answer, and the 404s are not Jellyfin's own "no such item" documents (or the public info said 404)."""
    if not _everything_404(view) or view.env.get("server_info"):
        return False
    jellyfin_said_so = all(view.who_answered(r) == "jellyfin" and r.get("error_body")
                           for r in view.requests if r.get("status_code") == 404)
    return _probe_404(view) or not jellyfin_said_so


@rule(("wrong_base_url", "every request, the server's public info included, was answered 404: the URL's path is wrong"))
def wrong_base_url(view: JobView) -> Iterator[Finding]:
    if not _url_suspect(view):
        return
    probe = view.env.get("server_info_error")
    probe_404 = _probe_404(view)
    if len(view.requests) < 2 and not probe_404:
        return  # one 404 alone says nothing about the URL
    routes = dict(Counter(str(r.get("route")) for r in view.requests))
    n = len(view.requests)
    told = (", and so was /System/Info/Public" if probe_404 else
            f" (and /System/Info/Public failed: {probe})" if probe else "")
    yield Finding(
        "wrong_base_url",
        (f"All {n} requests were answered 404 Not Found" if n > 1 else "The request was answered 404 Not Found")
        + f"{told}: the server URL probably lacks a base path (Jellyfin behind a proxy often lives at "
        "/jellyfin) or points at another web server.",
        "Open <server URL>/System/Info/Public in a browser; when it does not show Jellyfin's JSON, fix the "
        "URL (reference worker: JELLYFIN_URL or --server).",
        "high" if probe_404 else "medium" if probe is None else "low",
        view.evidence(view.requests, routes=routes, probe_error=probe),
    )


@rule(("invalid_item_ids", "the server rejected item ids as malformed (400)"))
def invalid_item_ids(view: JobView) -> Iterator[Finding]:
    records = [r for r in view.failed if r.get("status_code") == 400 and view.who_answered(r) != "proxy"]
    if not records:
        return
    ids = view.item_ids(records)
    malformed = [i for i in ids if not _GUID.match(i)]
    body = next((gist(r["error_body"]) for r in records if r.get("error_body")), None)
    quotes = view.said(records)
    if malformed and len(malformed) == len(ids):
        cause = (f"{plural(len(ids), 'item id')} ({examples(ids)}) {verb(len(ids), 'is', 'are')} not a Jellyfin "
                 "item id (32 hex digits) and the server answered 400 Bad Request." + sentence(quotes))
        confidence = "high"
    else:
        cause = (f"The server answered 400 Bad Request for {plural(len(ids), 'item')} ({examples(ids)})"
                 + (f", {len(malformed)} of which {verb(len(malformed), 'is', 'are')} not "
                    f"{verb(len(malformed), 'a Jellyfin id', 'Jellyfin ids')}" if malformed else "")
                 + (f"; {quote(quotes)}." if quotes else "."))
        confidence = "medium"
    yield Finding(
        "invalid_item_ids", cause,
        "Take these ids out of the batch, or reload the item list from Jellyfin (a re-scan refreshes it); "
        "an id copied from a URL may carry extra characters.",
        confidence,
        view.evidence(records, malformed_ids=malformed, error_body=body),
    )


@rule(("items_not_found", "items answered 404 Not Found: deleted or moved in Jellyfin since they were picked"))
def items_not_found(view: JobView) -> Iterator[Finding]:
    if _url_suspect(view):
        return  # wrong_base_url speaks for these, or nothing shows the URL is right
    records = [r for r in view.failed if r.get("status_code") == 404 and view.who_answered(r) != "proxy"]
    if not records:
        return
    ids = view.item_ids(records)
    routes = Counter(str(r.get("route")) for r in records)
    right_url = ("while other requests to the same server worked" if view.ok else
                 "while the server's public info answered (so the URL is right)" if view.env.get("server_info")
                 else "answered by Jellyfin itself (a \u201cnot found\u201d document, so the URL reaches it)")
    n = len(ids)
    yield Finding(
        "items_not_found",
        f"{plural(n, 'item')} ({examples(ids) or 'no item id recorded'}) got 404 Not Found on "
        f"{listing(sorted(routes))}, {right_url}: {verb(n, 'this item (or its poster) no longer exists', 'these items (or their posters) no longer exist')} there.",
        "Re-scan the library or reload the item list, and drop these ids from the batch; an item without a "
        "poster answers 404 on its image only.",
        "high" if view.ok else "medium",
        view.evidence(records, routes=dict(routes)),
    )


@rule(("client_errors", "other 4xx answers: the server refused the request as it was sent"))
def client_errors(view: JobView) -> Iterator[Finding]:
    handled = {400, 401, 403, 404, 429}
    records = [r for r in view.failed if 400 <= (r.get("status_code") or 0) < 500
               and r.get("status_code") not in handled and not R.broke_in_body(r)
               and view.who_answered(r) != "proxy"]
    if not records:
        return
    statuses = Counter(R.status_key(r) for r in records)
    body = next((gist(r["error_body"]) for r in records if r.get("error_body")), None)
    quotes = view.said(records)
    yield Finding(
        "client_errors",
        f"{plural(len(records), 'request')} {verb(len(records), 'was', 'were')} refused as sent "
        f"({counts(statuses)})" + (f": {quote(quotes)}." if quotes else "."),
        with_hint("Compare these requests (method, path, headers in the job file) with what the Jellyfin API "
                  "expects.", quotes),
        "medium",
        view.evidence(records, error_body=body),
    )
