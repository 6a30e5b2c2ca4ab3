"""Rules about the API key: refused from the start, stopped working, sent in a form the server ignores, missing.

Each credential is followed by its fingerprint (``credential_fp``, never the
value) over the routes that need a key: a 2xx there means the key was
accepted, a 401 that it was not. Routes Jellyfin serves without a key
(images, ``/System/Info/Public``) say nothing about the key.

Evidence keys of these findings (besides the common ones):
``credential_fp``, ``credential_form``, ``accepted`` and ``rejected``
(attempts on routes that need a key), ``last_accepted_ms``,
``first_rejected_ms``, ``server_version``, ``forms_accepted`` (forms of the
same key that worked), ``forms_refused``, ``routes`` (route -> attempts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from .. import attempts as R
from ..routes import needs_auth
from ..secrets import LEGACY_FORMS, MODERN_FORMS
from . import Finding, rule
from .text import examples, listing, plural, seconds, verb
from .view import JobView, Record

_FORM_NAMES = {
    "authorization": "the Authorization header (MediaBrowser Token=...)",
    "x-emby-authorization": "the X-Emby-Authorization header",
    "x-emby-token": "the X-Emby-Token header",
    "x-mediabrowser-token": "the X-MediaBrowser-Token header",
    "query-apikey": "the ApiKey query parameter",
    "query-api_key": "the api_key query parameter",
}


def _version(view: JobView) -> tuple[int, ...] | None:
    info = view.env.get("server_info") or {}
    raw = str(info.get("Version") or "")
    parts = []
    for piece in raw.split(".")[:3]:
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) if parts else None


def _keyed(view: JobView) -> list[Record]:
    """Attempts on routes that need a key and got an answer from Jellyfin that speaks about it (2xx or 401)."""
    return [r for r in view.requests
            if needs_auth(r.get("route")) is not False and view.who_answered(r) != "proxy"  # a proxy's own 401
            and (r.get("status_code") == 401 or (r.get("credential_fp") and 200 <= (r.get("status_code") or 0) < 300
                                                 and not R.broke_in_body(r)))]


def _form_advice(form: str, version: tuple[int, ...] | None) -> tuple[str, str] | None:
    """(why the server ignores this form, what to send instead) when the server's version tells."""
    shown = ".".join(map(str, version)) if version else ""
    if version is not None and version < (10, 8) and form in MODERN_FORMS:
        return (f"the server reports version {shown}, older than 10.8, which does not read "
                f"{_FORM_NAMES[form]}",
                "send the key as X-Emby-Token (or upgrade Jellyfin)")
    if version is not None and version >= (10, 12) and form in LEGACY_FORMS:
        return (f"the server reports version {shown}, which ignores {_FORM_NAMES[form]} unless legacy "
                "authorization is enabled (off by default since 10.12 / 12.0)",
                'send the key as Authorization: MediaBrowser Token="<key>" (or the ApiKey query parameter)')
    return None


@rule(("key_revoked", "the API key worked at first, then was refused on every later request"),
      ("auth_form_not_accepted", "the server ignores the way the key is sent (header form vs server version)"),
      ("key_rejected", "the API key was refused on every request that needed it; it never worked in this job"),
      ("auth_intermittent", "the same API key was accepted and refused by turns"),
      ("no_credential", "requests that needed an API key carried none"))
def credentials(view: JobView) -> Iterator[Finding]:
    keyed = _keyed(view)
    missing = [r for r in keyed if r.get("status_code") == 401 and not r.get("credential_fp")]
    by_key: dict[str, list[Record]] = {}
    for r in keyed:
        if r.get("credential_fp"):
            by_key.setdefault(str(r["credential_fp"]), []).append(r)
    forms_ok: dict[str, set[str]] = {}
    for fp, records in by_key.items():
        forms_ok[fp] = {str(r.get("credential_form")) for r in records if r.get("status_code") != 401}
    version = _version(view)
    for fp, records in by_key.items():
        rejected = [r for r in records if r.get("status_code") == 401]
        if not rejected:
            continue
        accepted = [r for r in records if r.get("status_code") != 401]
        form = str(rejected[0].get("credential_form") or "")
        refused_forms = sorted({str(r.get("credential_form")) for r in rejected})
        base = dict(credential_fp=fp, credential_form=form, accepted=len(accepted), rejected=len(rejected),
                    forms_accepted=sorted(forms_ok[fp]), forms_refused=refused_forms,
                    server_version=".".join(map(str, version)) if version else None)
        first_rejected = float(rejected[0].get("start_offset_ms") or 0.0)
        if accepted:
            last_accepted = max(float(r.get("start_offset_ms") or 0.0) for r in accepted)
            wrong_form = [f for f in refused_forms if f not in forms_ok[fp]]
            # The server decided each attempt somewhere between its start and its end. Some moment
            # splits every acceptance from every refusal exactly when the last acceptance started
            # before the first refusal ended: then the key went at that moment, whatever the order
            # in which requests in flight together happened to start.
            first_rejected_end = min(float(r.get("start_offset_ms") or 0.0) + float(r.get("duration_ms") or 0.0)
                                     for r in rejected)
            if wrong_form and all(r.get("credential_form") in wrong_form for r in rejected):
                yield _form_refused(view, rejected, fp, wrong_form, base, worked_as=sorted(forms_ok[fp]))
            elif last_accepted < first_rejected_end:
                yield Finding(
                    "key_revoked",
                    f"API key {fp} was accepted on {plural(len(accepted), 'request')} until "
                    f"{seconds(last_accepted)}, then refused (401) on {plural(len(rejected), 'request')} from "
                    f"{seconds(first_rejected)} on, and never accepted again: it was revoked, expired or "
                    "replaced while the job ran.",
                    "Check the API keys (Dashboard > API Keys) or the user's sessions in Jellyfin: was this key "
                    "deleted or the user's password changed around that time? Give the job a new key, then rerun "
                    "the items that failed.",
                    "high" if len(rejected) >= 2 else "medium",
                    view.evidence(rejected, last_accepted_ms=last_accepted, first_rejected_ms=first_rejected,
                                  **base),
                )
            else:
                yield Finding(
                    "auth_intermittent",
                    f"API key {fp} was accepted on {plural(len(accepted), 'request')} and refused (401) on "
                    f"{plural(len(rejected), 'request')}, by turns: one server of several may not know it, or "
                    "a proxy strips the header on some paths.",
                    "If several Jellyfin servers sit behind a load balancer, check that each knows this key; "
                    "check the proxy's header rules.",
                    "medium",
                    view.evidence(rejected, first_rejected_ms=first_rejected, **base),
                )
            continue
        advice = _form_advice(form, version)
        if advice is not None and all(r.get("credential_form") == form for r in rejected):
            yield _form_refused(view, rejected, fp, [form], base, reason=advice)
            continue
        forms = listing([_FORM_NAMES.get(f, f) for f in refused_forms])
        yield Finding(
            "key_rejected",
            f"API key {fp} was refused (401) on all {plural(len(rejected), 'request')} that needed it and "
            f"never accepted in this job; it was sent as {forms}.",
            "Check the key: copy it again from Jellyfin (Dashboard > API Keys) into the job's configuration "
            "(reference worker: JELLYFIN_API_KEY or --api-key). If the key is right, the server may not read "
            "it in this form: older servers (before 10.8) want X-Emby-Token, servers with legacy "
            "authorization off want the Authorization header.",
            "medium",
            view.evidence(rejected, first_rejected_ms=first_rejected, **base),
        )
    if missing:
        routes = dict(Counter(str(r.get("route")) for r in missing))
        yield Finding(
            "no_credential",
            f"{plural(len(missing), 'request')} to {listing(sorted(routes))} carried no API key and "
            f"{verb(len(missing), 'was', 'were')} refused (401).",
            'Send the key with every request to these routes: Authorization: MediaBrowser Token="<key>" '
            "or the ApiKey query parameter.",
            "high",
            view.evidence(missing, routes=routes),
        )


def _form_refused(view: JobView, rejected: list[Record], fp: str, forms: list[str], base: dict[str, object], *,
                  worked_as: list[str] | None = None, reason: tuple[str, str] | None = None) -> Finding:
    shown = listing([_FORM_NAMES.get(f, f) for f in forms])
    if worked_as:
        why = (f"the same key was accepted when sent as {listing([_FORM_NAMES.get(f, f) for f in worked_as])}, "
               "so the key is right and the server ignores this form")
        action = f"Send the key the way that worked ({_FORM_NAMES.get(worked_as[0], worked_as[0])}) everywhere."
    else:
        assert reason is not None
        why, todo = reason
        action = f"The key may well be right: {todo}."
    return Finding(
        "auth_form_not_accepted",
        f"API key {fp} sent as {shown} was refused (401) on {plural(len(rejected), 'request')}: {why}.",
        action,
        "high" if worked_as else "medium",
        view.evidence(rejected, **base),
    )


@rule(("forbidden", "the key was accepted but the user may not see these items or routes (403)"))
def forbidden(view: JobView) -> Iterator[Finding]:
    records = [r for r in view.failed if r.get("status_code") == 403 and view.who_answered(r) != "proxy"]
    if not records:
        return
    ids = view.item_ids(records)
    yield Finding(
        "forbidden",
        f"{plural(len(records), 'request')} {verb(len(records), 'was', 'were')} answered 403 Forbidden"
        + (f" (items {examples(ids)})" if ids else "")
        + ": the key was accepted, but its user may not access these items or this route.",
        "Give the key's user access to the library that holds these items, or use an administrator's key.",
        "medium",
        view.evidence(records),
    )
