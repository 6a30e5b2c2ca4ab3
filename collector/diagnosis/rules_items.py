"""Rules about the items themselves: ids that are no Jellyfin ids, items that no longer exist, a wrong base URL.

Evidence keys of these findings (besides the common ones): ``malformed_ids``
(ids that are not 32 hex digits or a dashed GUID), ``routes``,
``probe_error`` (what ``/System/Info/Public`` answered), ``error_body``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from .. import attempts as R
from ..bodytext import gist
from . import Finding, rule
from .text import counts, examples, plural, verb
from .view import JobView

_GUID = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})$")


def _everything_404(view: JobView) -> bool:
    answered = [r for r in view.requests if r.get("status_code") is not None]
    return bool(answered) and all(r.get("status_code") == 404 for r in answered)


@rule(("wrong_base_url", "every request, the server's public info included, was answered 404: the URL's path is wrong"))
def wrong_base_url(view: JobView) -> Iterator[Finding]:
    if not _everything_404(view) or len(view.requests) < 2:
        return
    probe = view.env.get("server_info_error")
    if view.env.get("server_info") or (probe is not None and "404" not in str(probe)):
        return  # the server's public info answered: the base path is right
    routes = sorted({str(r.get("route")) for r in view.requests})
    yield Finding(
        "wrong_base_url",
        f"All {plural(len(view.requests), 'request')} were answered 404 Not Found"
        + (", and so was /System/Info/Public" if probe else "")
        + ": the server URL probably lacks a base path (Jellyfin behind a proxy often lives at /jellyfin) "
        "or points at another web server.",
        "Open <server URL>/System/Info/Public in a browser; when it does not show Jellyfin's JSON, fix the "
        "URL (reference worker: JELLYFIN_URL or --server).",
        "high" if probe else "medium",
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
    if malformed and len(malformed) == len(ids):
        cause = (f"{plural(len(ids), 'item id')} ({examples(ids)}) {verb(len(ids), 'is', 'are')} not a Jellyfin "
                 "item id (32 hex digits) and the server answered 400 Bad Request.")
        confidence = "high"
    else:
        cause = (f"The server answered 400 Bad Request for {plural(len(ids), 'item')} ({examples(ids)})"
                 + (f", {len(malformed)} of which are not Jellyfin ids" if malformed else "")
                 + (f"; it said \u201c{body}\u201d." if body else "."))
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
    if _everything_404(view) and len(view.requests) >= 2 and not view.env.get("server_info"):
        return  # wrong_base_url speaks for these
    records = [r for r in view.failed if r.get("status_code") == 404 and view.who_answered(r) != "proxy"]
    if not records:
        return
    ids = view.item_ids(records)
    routes = Counter(str(r.get("route")) for r in records)
    yield Finding(
        "items_not_found",
        f"{plural(len(ids), 'item')} ({examples(ids) or 'no item id recorded'}) got 404 Not Found "
        f"({counts(routes)}), while other requests to the same server worked: these items (or their "
        "posters) no longer exist there.",
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
    yield Finding(
        "client_errors",
        f"{plural(len(records), 'request')} {verb(len(records), 'was', 'were')} refused as sent "
        f"({counts(statuses)})" + (f": \u201c{body}\u201d." if body else "."),
        "Compare these requests (method, path, headers in the job file) with what the Jellyfin API expects.",
        "medium",
        view.evidence(records, error_body=body),
    )
