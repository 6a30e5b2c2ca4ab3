"""Rules about what successful answers held: a page, a document or nothing where a poster was asked for.

A ``200 OK`` counts as a success by its status; the poster saved from a
captive portal's sign-in page is still no image. The record says what a
2xx GET's body was when it was not what its route serves
(``exchange.Attempt``: ``body_kind``, from the body's first bytes whatever
its ``Content-Type`` claims, ``content_type`` and the body's words,
``body_text``), and these rules read it:

- ``page_instead_of_image``: an HTML page. Who sent it is told from the
  ``Server`` header against the answers that were images: a different
  server (or a named proxy) is something in front answering for Jellyfin
  (a captive portal, a proxy's sign-in page); Jellyfin's own server
  answering HTML is its web client, served for a path its API does not
  have (a wrong base path);
- ``document_instead_of_image``: JSON, XML or text;
- ``empty_images``: a body read to its end that held no byte.

Evidence keys (besides the common ones): ``body_kinds`` (kind -> attempts),
``content_types`` (as the answers declared them -> attempts), ``routes``
(route -> attempts), ``body_said`` (the most frequent words, as an error
body's gist), ``items_failed`` / ``items_succeeded`` (what the job made of
these items: a job that took a sign-in page for a poster says "succeeded"),
``redirected_to`` (pages on paths that are no Jellyfin route, reached by
redirecting the items' image requests: a sign-in proxy), ``images_received``
(2xx answers on image routes that were images), ``image_servers`` (their
``Server`` headers), and ``images_before`` / ``images_after`` (whether
images came before the first and after the last of these answers: an
interception that came and went).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from .. import attempts as R
from ..routes import needs_auth
from ..bodytext import gist
from . import Finding, rule
from .text import examples, listing, plural, seconds, verb
from .view import JELLYFIN_NAMES, PROXY_NAMES, JobView, Record, is_image_route

_DOCUMENTS = ("json", "xml", "text")
_NAMES = {"json": "a JSON document", "xml": "an XML document", "text": "text"}


class _Answers:
    """A job's 2xx answers whose body was not what their route serves (:attr:`JobView.odd_bodies`), and
    the 2xx answers on image routes that were images (read only when there are the first)."""

    def __init__(self, view: JobView) -> None:
        self.view = view
        self.by_kind = view.odd_bodies
        self.images: Sequence[Record] = []
        if self.by_kind:
            routes, statuses = R.column(view.requests, "route"), R.column(view.requests, "status_code")
            sizes, kinds = R.column(view.requests, "body_bytes"), R.column(view.requests, "body_kind")
            self.images = R.pick(view.requests, [
                i for i, route in enumerate(routes) if is_image_route(route) and kinds[i] is None
                and 200 <= (statuses[i] or 0) < 300 and (sizes[i] or 0) > 0])

    def of(self, *kinds: str) -> list[Record]:
        found = sorted(i for kind in kinds for i in self.by_kind.get(kind, ()))
        return R.pick(self.view.requests, found)

    def evidence(self, records: Sequence[Record]) -> dict[str, Any]:
        view = self.view
        starts = [float(s or 0.0) for s in R.column(records, "start_offset_ms")]
        image_starts = [float(s or 0.0) for s in R.column(self.images, "start_offset_ms")]
        words = Counter(gist(str(t)) for t in R.column(records, "body_text") if t)
        ids = view.item_ids(records)
        return view.evidence(
            records,
            body_kinds=dict(Counter(str(k) for k in R.column(records, "body_kind"))),
            content_types=dict(Counter(str(c) for c in R.column(records, "content_type"))),
            routes=dict(Counter(str(r) for r in R.column(records, "route"))),
            body_said=words.most_common(1)[0][0] if words else None,
            images_received=len(self.images),
            image_servers=dict(Counter(str(s) for s in R.column(self.images, "server") if s)),
            images_before=bool(starts) and any(s < min(starts) for s in image_starts),
            images_after=bool(starts) and any(s > max(starts) for s in image_starts),
            items_failed=sum(1 for i in ids if view.outcome.get(i) == "failed"),
            items_succeeded=sum(1 for i in ids if view.outcome.get(i) == "succeeded"),
        )


def _found(view: JobView, *kinds: str) -> tuple[_Answers, list[Record], dict[str, Any]] | None:
    """(the job's answers, those of ``kinds``, their evidence), or None when there are none of them."""
    answers = _Answers(view)
    records = answers.of(*kinds)
    return (answers, records, answers.evidence(records)) if records else None


def _taken(evidence: dict[str, Any]) -> str:
    """What the job made of these answers, when it took them for posters."""
    done = evidence.get("items_succeeded", 0)
    if not done:
        return ""
    if done == evidence.get("items"):
        return f" The job took these answers as good: its {plural(done, 'item')} succeeded."
    return f" The job took some of them as good: {plural(done, 'item')} of these succeeded."


def _statuses(records: Sequence[Record]) -> str:
    """``200``, ``200 and 204``: the statuses these answers came with."""
    return listing(sorted({str(s) for s in R.column(records, "status_code") if s is not None})) or "2xx"


def _what(records: Sequence[Record], ids: list[str], answer: str) -> str:
    """``3 poster requests (3 items: a, b, c) were answered 200 with <answer>, not an image``."""
    n = len(records)
    posters = sum(map(is_image_route, R.column(records, "route")))
    listed = [f"{plural(len(ids), 'item')}: {examples(ids)}"] if ids else []
    if posters == n:
        asked, where = plural(n, "poster request"), "not an image"
    else:
        asked, where = plural(n, "request"), "where Jellyfin serves images and JSON"
        listed = ([f"{posters} for posters"] if posters else []) + listed
    if listed:
        asked += f" ({', '.join(listed)})"
    return f"{asked} {verb(n, 'was', 'were')} answered {_statuses(records)} with {answer}, {where}"


def _when(evidence: dict[str, Any]) -> str:
    """When these answers came, against the posters: said only of two or more (one is no stretch of time)."""
    window = evidence.get("window_ms") or {}
    if evidence.get("attempts", 0) < 2:
        return ""
    if evidence.get("images_before") and evidence.get("images_after"):
        return (f", from {seconds(window.get('start'))} to {seconds(window.get('end'))} into the job, while "
                "posters came before and after")
    if evidence.get("images_before"):
        return f", from {seconds(window.get('start'))} into the job on, after posters had come"
    return ""


def _redirected(view: JobView, records: Sequence[Record], evidence: dict[str, Any]) -> tuple[list[str], int] | None:
    """(the paths, the redirected image requests) when the pages came from paths that are no Jellyfin
    route, to items whose image requests were redirected (a sign-in proxy's login page); else None."""
    paged = list(evidence["routes"])
    foreign = sorted(route for route in paged if needs_auth(route) is None and not is_image_route(route))
    if not foreign or len(foreign) < len(paged):
        return None  # some pages answered Jellyfin's own paths: said as they came
    items = set(view.item_ids(records))
    statuses, routes, ids = (R.column(view.requests, key) for key in ("status_code", "route", "item_id"))
    hops = sum(1 for status, route, item in zip(statuses, routes, ids)
               if 300 <= (status or 0) < 400 and is_image_route(route) and str(item) in items)
    return (foreign, hops) if hops else None


def _said(evidence: dict[str, Any]) -> str:
    words = evidence.get("body_said")
    return f" (\u201c{words}\u201d)" if words else ""


@rule(("page_instead_of_image",
       "poster requests were answered 2xx with an HTML page: a portal, sign-in page or Jellyfin's web client"))
def page_instead_of_image(view: JobView) -> Iterator[Finding]:
    found = _found(view, "html")
    if found is None:
        return
    _, records, evidence = found
    servers = [s.lower() for s in evidence["servers"]]
    image_servers = {s.lower() for s in evidence["image_servers"]}
    ids = view.item_ids(records)
    redirect = _redirected(view, records, evidence)
    if redirect is not None:
        paths, hops = redirect
        evidence["redirected_to"] = paths
        what = (f"{plural(hops, 'poster request')} ({plural(len(ids), 'item')}: {examples(ids)}) "
                f"{verb(hops, 'was', 'were')} redirected to {listing(paths)}, which answered {_statuses(records)} "
                "with an HTML page" + _said(evidence))
    else:
        what = _what(records, ids, "an HTML page") + _said(evidence)
    named = listing(sorted(evidence["servers"])) or "no Server header"
    if servers and all(any(name in s for name in JELLYFIN_NAMES) for s in servers):
        yield Finding(
            "page_instead_of_image",
            f"{what}{_when(evidence)}, sent by Jellyfin's own web server ({named}): an HTML page where the API "
            "serves images is its web client, served for a path its API does not have." + _taken(evidence),
            "Check the server URL's base path (Jellyfin behind a proxy often lives at /jellyfin, and a proxy "
            "that serves the web client for unknown paths answers 200 to anything); "
            "<server URL>/System/Info/Public must show Jellyfin's JSON (reference worker: --server).",
            "medium", evidence)
        return
    other = bool(image_servers) and not set(servers) <= image_servers
    proxy = any(name in s for s in servers for name in PROXY_NAMES)
    by = (f", sent by {named} where the posters came from {listing(sorted(evidence['image_servers']))}" if other
          else f", sent by {named}")
    yield Finding(
        "page_instead_of_image",
        f"{what}{_when(evidence)}{by}: something in front of Jellyfin (a captive portal, a proxy's sign-in "
        "or consent page, a filter) answered in its place." + _taken(evidence),
        "Open one of these poster URLs from the worker's host (curl -i): a sign-in or portal page means the "
        "network or the proxy in front of Jellyfin stops the worker; let it through (a bypass for the "
        "worker, or Jellyfin's direct address), or sign in where the page asks. Anything saved from these "
        "answers is that page, not a poster: fetch those items again.",
        "high" if other or proxy or not servers else "medium", evidence)


@rule(("document_instead_of_image", "poster requests were answered 2xx with JSON, XML or text, not an image"))
def document_instead_of_image(view: JobView) -> Iterator[Finding]:
    found = _found(view, *_DOCUMENTS)
    if found is None:
        return
    _, records, evidence = found
    kinds = sorted(evidence["body_kinds"], key=_DOCUMENTS.index)
    jellyfin = any(any(name in s.lower() for name in JELLYFIN_NAMES) for s in evidence["servers"])
    who = "Jellyfin" if jellyfin else listing(sorted(evidence["servers"])) or "the server"
    yield Finding(
        "document_instead_of_image",
        _what(records, view.item_ids(records), " or ".join(_NAMES[k] for k in kinds)) + _said(evidence)
        + _when(evidence) + f", sent by {who}: the status says success, the body does not." + _taken(evidence),
        "Read these answers' words (body_text in the job file's requests): an error told with 200 means the "
        "item's image is missing or broken on the server (refresh its images in Jellyfin); a document from "
        "something other than Jellyfin means it answered in Jellyfin's place.",
        "medium", evidence)


@rule(("empty_images", "poster requests were answered 2xx with an empty body"))
def empty_images(view: JobView) -> Iterator[Finding]:
    found = _found(view, "empty")
    if found is None:
        return
    answers, records, evidence = found
    ids = view.item_ids(records)
    some = bool(answers.images)
    yield Finding(
        "empty_images",
        _what(records, ids, "an empty body (0 bytes)") + _when(evidence)
        + (": the server holds empty image files for these items, while other posters came whole."
           if some else ": no poster of this job had a byte, so something in between (a cache, a proxy) "
           "may be dropping the bodies, or the server's image files are empty.") + _taken(evidence),
        "Refresh these items' images in Jellyfin (Refresh metadata with \u201cReplace existing images\u201d) and "
        "look at the image files' sizes in its metadata folder"
        + ("." if some else "; then fetch one poster URL directly from Jellyfin's host, past any proxy."),
        "medium" if some else "low", evidence)
