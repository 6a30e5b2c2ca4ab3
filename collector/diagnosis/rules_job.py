"""Rules about the job's own life: it raised, it was cut short, it skipped items, it ran work outside itself.

Evidence keys of these findings (besides the common ones):
``items_declared``, ``items_started``, ``items_finished``, ``items_unfinished``,
``items_not_started``, ``error_type``, ``error_message``,
``requests_outside_jobs``, ``requests_recorded``, ``items_failed_winding_up``, ``item_errors`` (item id ->
the job's own error text), ``error_types``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from .. import attempts as R
from . import Finding, rule
from .quotes import sentence, with_hint
from .text import counts, examples, plural, share, verb
from .view import JobView


def _life_evidence(view: JobView) -> dict[str, int]:
    counts = view.item_counts
    return {"items_declared": counts["total"], "items_started": counts["started"],
            "items_finished": counts["succeeded"] + counts["failed"], "items_unfinished": counts["unfinished"],
            "items_not_started": counts["not_started"]}


def _left(view: JobView) -> str:
    counts = view.item_counts
    parts = []
    if counts["unfinished"]:
        parts.append(f"{plural(counts['unfinished'], 'item')} {verb(counts['unfinished'], 'was', 'were')} "
                     "in progress")
    if counts["not_started"]:
        parts.append(f"{plural(counts['not_started'], 'item')} never started")
    return (", and " + " and ".join(parts)) if parts else ""


@rule(("job_crashed", "the job's own code raised an exception, so the job did not finish its items"))
def job_crashed(view: JobView) -> Iterator[Finding]:
    error = view.life.get("error")
    if not error:
        return
    counts = view.item_counts
    done = counts["succeeded"] + counts["failed"]
    kind = error.get("type") or "an error"
    message = str(error.get("message") or "").strip()
    dragged = [str(i.get("item_id")) for i in view.failed_items if view.ended_with_the_crash(i)]
    also = (f" {plural(len(dragged), 'item')} failed as it wound up (e.g. {dragged[0]})." if dragged else "")
    yield Finding(
        "job_crashed",
        f"The job stopped with {kind} ({message[:300]}) after {done} of {plural(counts['total'], 'item')} "
        f"had finished{_left(view)}.{also} The HTTP figures cover only the items that ran.",
        "Fix the error in the job's code (see the exception); batch-debug did not cause it and the "
        "requests that ran show no sign of it.",
        "high",
        view.evidence([], error_type=error.get("type"), error_message=message, items_failed_winding_up=dragged,
                      **_life_evidence(view)),
    )


@rule(("job_interrupted", "the process stopped (SIGTERM, shutdown) while the job was still running"))
def job_interrupted(view: JobView) -> Iterator[Finding]:
    if view.life.get("ended", True) or view.life.get("error"):
        return
    counts = view.item_counts
    done = counts["succeeded"] + counts["failed"]
    yield Finding(
        "job_interrupted",
        f"The process stopped before the job ended: {done} of {plural(counts['total'], 'item')} had finished"
        f"{_left(view)}. This file holds what was recorded until then.",
        "Look for what stopped the process (a deployment, a restart, a supervisor's timeout or an "
        "out-of-memory kill), then rerun the items that did not finish.",
        "high",
        view.evidence([], **_life_evidence(view)),
    )


@rule(("items_not_started", "the job ended normally but started fewer items than it declared"))
def items_not_started(view: JobView) -> Iterator[Finding]:
    counts = view.item_counts
    if not counts["not_started"] or view.life.get("error") or not view.life.get("ended", True):
        return
    if view.life.get("requests_outside_jobs"):
        return  # requests_outside_job explains items the job never saw start
    yield Finding(
        "items_not_started",
        f"The job declared {plural(counts['total'], 'item')} but started only {counts['started']}: "
        f"{plural(counts['not_started'], 'item')} {verb(counts['not_started'], 'was', 'were')} never "
        "attempted, and they are not counted as failed.",
        "Check the job's loop for an early exit, a filter or a skipped batch, or pass the real number "
        "as items_total.",
        "medium",
        view.evidence([], **_life_evidence(view)),
    )


@rule(("items_unfinished", "the job ended normally while some of its items were still in progress"))
def items_unfinished(view: JobView) -> Iterator[Finding]:
    counts = view.item_counts
    if not counts["unfinished"] or view.life.get("error") or not view.life.get("ended", True):
        return  # a crash or an interruption explains them
    n = counts["unfinished"]
    yield Finding(
        "items_unfinished",
        f"The job ended while {plural(n, 'item')} {verb(n, 'was', 'were')} still in progress: "
        f"{verb(n, 'its', 'their')} outcome is not in this file.",
        "Wait for every item's task or thread before the job ends (await the tasks, join the threads, "
        "leave the pool's with-block inside the job).",
        "medium",
        view.evidence([], **_life_evidence(view)),
    )


@rule(("requests_outside_job", "HTTP requests ran in the process outside any job (threads without copy_context)"))
def requests_outside_job(view: JobView) -> Iterator[Finding]:
    outside = int(view.life.get("requests_outside_jobs") or 0)
    if not outside:
        return
    counts = view.item_counts
    silent_items = [i for i in view.outcome if i not in view.last_attempt]
    if view.requests and not silent_items and not counts["not_started"]:
        return  # every item has its requests: the outside ones belong to something else
    recorded = len(view.requests)
    unseen = (f"; it saw {counts['started']} of its {plural(counts['total'], 'declared item')} start"
              if counts["not_started"] else "")
    yield Finding(
        "requests_outside_job",
        f"{plural(outside, 'HTTP request')} ran in this process outside any job while this job ran, and "
        f"the job recorded {plural(recorded, 'request')}"
        + (f" ({plural(len(silent_items), 'item')} of {counts['started']} with none)" if silent_items else "")
        + f"{unseen}: work done in threads started without the job's context is not seen as the job's.",
        "Submit the job's work with contextvars.copy_context().run (e.g. pool.submit(copy_context().run, "
        "fn, item)) or start threads inside the job with the context copied; asyncio tasks inherit it.",
        "high" if not recorded else "medium",
        view.evidence([], requests_outside_jobs=outside, requests_recorded=recorded,
                      example_item_ids=silent_items[:5], items=len(silent_items), **_life_evidence(view)),
    )


@rule(("no_requests_recorded", "items ran but the job recorded no HTTP request: its client is not traced, "
                               "or it made none"))
def no_requests_recorded(view: JobView) -> Iterator[Finding]:
    counts = view.item_counts
    if view.requests or not counts["started"] or view.life.get("requests_outside_jobs"):
        return  # requests_outside_job speaks when the requests ran, but outside the job
    failed = view.failed_items
    errors = {str(i["item_id"]): str(i.get("error") or "no error recorded")[:200] for i in failed[:5]}
    first = next(iter(errors.items()), None)
    n = counts["started"]
    yield Finding(
        "no_requests_recorded",
        f"{plural(n, 'item')} ran and the job recorded no HTTP request"
        + (f" ({len(failed)} of them failed, e.g. {first[0]}: {first[1]})" if first else "")
        + ": its HTTP client is not one batch-debug traces (httpx, aiohttp and requests are), or the items "
        "made no request, so nothing here tells whether the server did its part.",
        "Make the job's requests with httpx, aiohttp or requests in the process where setup() ran, and create "
        "an aiohttp session after setup() (one made before it is not traced); then run the items again.",
        "medium",
        view.evidence([], item_errors=errors, items=n, example_item_ids=list(errors) or
                      [str(i) for i in list(view.outcome)[:5]], **_life_evidence(view)),
    )


@rule(("requests_aborted", "requests failed because the job closed its HTTP client under them or cancelled them"))
def requests_aborted(view: JobView) -> Iterator[Finding]:
    records = [r for r in view.failed if R.phase(r) == "aborted"]
    if not records:
        return
    n = len(records)
    crashed = " after the job's code raised" if view.life.get("error") else ""
    errors = Counter(str(r.get("error_type")) for r in records)
    yield Finding(
        "requests_aborted",
        f"{plural(n, 'request')} {verb(n, 'was', 'were')} still in flight when the job closed its HTTP client "
        f"or cancelled {verb(n, 'it', 'them')}{crashed} ({counts(errors)}): these failures come from the job, "
        "not from the server.",
        "Let every request finish before closing the client or leaving the job: await all tasks "
        "(asyncio.gather(..., return_exceptions=True) keeps one failure from abandoning the others) and "
        "close the client last.",
        "high",
        view.evidence(records, error_types=dict(errors)),
    )


@rule(("worker_side_failures", "items failed although none of their HTTP attempts failed"))
def worker_side_failures(view: JobView) -> Iterator[Finding]:
    failed_http = {str(r["item_id"]) for r in view.failed if r.get("item_id")}
    # An item that failed on an answer that was no poster (a sign-in page with 200) failed on the answer:
    # rules_content names it.
    silent = [i for i in view.failed_items
              if str(i.get("item_id")) not in failed_http and str(i.get("item_id")) not in view.odd_body_items
              and str(i.get("item_id")) in view.last_attempt and not view.ended_with_the_crash(i)]
    if not silent:
        return
    errors = {str(i["item_id"]): str(i.get("error") or "no error recorded")[:200] for i in silent[:5]}
    first_id, first_error = next(iter(errors.items()))
    n = len(silent)
    yield Finding(
        "worker_side_failures",
        f"{plural(n, 'item')} failed although every HTTP attempt {verb(n, 'it', 'they')} made succeeded "
        f"(e.g. {first_id}: {first_error}): the failure happened in the job's own code, after the server "
        "answered.",
        "Read the item errors: saving the poster, decoding the image or a check in the job's code failed, "
        "not the server.",
        "high",
        view.evidence(view.attempts_of(str(i["item_id"]) for i in silent),
                      item_errors=errors, items=n, example_item_ids=list(errors)),
    )


def unexplained(view: JobView, findings: list[Finding]) -> Iterator[Finding]:
    """When something failed and no rule found why, say so rather than "no problems"."""
    if findings:
        return
    failed_items = view.failed_items
    if not view.failed and not failed_items:
        return
    records = view.failed
    evidence = view.evidence(records)
    quotes = view.said(records)
    if not records:
        ids = [str(i.get("item_id")) for i in failed_items]
        evidence.update(items=len(ids), example_item_ids=ids[:5])
    yield Finding(
        "unexplained_failures",
        f"{share(len(records), len(view.requests))} attempts and {plural(len(failed_items), 'item')} failed "
        "in a way batch-debug has no rule for"
        + (f" (status: {', '.join(sorted({R.status_key(r) for r in records}))})" if records else "") + "."
        + sentence(quotes),
        with_hint("Read the failed requests in the job file (status, error body, headers) and the item errors"
                  + (f", e.g. for {examples(view.item_ids(records))}" if records else "") + ".", quotes),
        "low",
        evidence,
    )
