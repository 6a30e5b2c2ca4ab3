"""Rules about the wire: where attempts broke (pool, connect, waiting, mid-body), slowness, connections.

Failures inside a failure window are the window's (``rules_availability``);
these rules read the ones scattered outside windows.

Evidence keys of these findings (besides the common ones): ``error_types``,
``phase``, ``reused_connection`` (attempts on a reused connection),
``recovered_items``, ``bytes_before_failure`` (median body bytes received
before a body failed), ``ttfb_ms`` ({p50, p95, max}), ``routes``,
``throughput_bytes_per_s`` (median over large bodies), ``ttfb_ms`` also has ``samples``, ``large_bodies``,
``new_connections``, ``reused_connections``, ``peak_concurrency``,
``expected_new_connections``, ``sessions_created``, ``connection_close``
(answers that said ``Connection: close``), ``answers``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any
from statistics import median

from .. import attempts as R
from ..ranks import Ranks
from ..time_columns import floats_in_place
from . import Finding, rule
from .text import counts, plural, seconds, share, verb
from .view import JobView, Record

#: p95 time to first byte (ms) above which the server counts as slow to answer.
SLOW_TTFB_P95_MS = 1000.0
MIN_TTFB_SAMPLES = 5
#: A body this large (bytes) says something about throughput ...
LARGE_BODY_BYTES = 1 << 20
MIN_LARGE_BODIES = 3
#: ... and a median below this (bytes per second) is a slow transfer.
SLOW_THROUGHPUT = 2_000_000
#: New connections beyond those concurrency and closed connections explain, before churn is reported.
MIN_EXCESS_CONNECTIONS = 10
EXCESS_SHARE = 0.5
MIN_CLOSE_ANSWERS = 5


def _scattered(view: JobView) -> list[Record]:
    return [r for r in view.unexplained_by_windows(view.failed) if R.phase(r) not in (None, "aborted")]


def _median_bytes(records: Sequence[Record]) -> int:
    sizes = [int(r.get("body_bytes") or 0) for r in records]
    return int(median(sizes)) if sizes else 0


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


@rule(("pool_exhausted", "requests waited too long for a free connection in the client's own pool"),
      ("connect_failures", "attempts could not open a connection, now and then, between successes"),
      ("no_response_timeout", "the request was sent but no answer came before the client's timeout"),
      ("stale_connections", "a reused keep-alive connection turned out closed by the server or a proxy"),
      ("connection_dropped", "a new connection was closed before any answer came"),
      ("body_stalled", "the answer's headers came, then the body stopped arriving until the read timeout"),
      ("body_cut_off", "the answer's headers came, then the connection closed in the middle of the body"))
def broken_attempts(view: JobView) -> Iterator[Finding]:
    groups: dict[str, list[Record]] = {}
    for r in _scattered(view):
        if view.explained_elsewhere(r):
            continue  # a certificate, a name, a route: rules_network names it
        ph = R.phase(r)
        if ph == "pool":
            key = "pool_exhausted"
        elif ph == "connect":
            key = "connect_failures"
        elif ph == "body":
            key = "body_stalled" if R.is_timeout(r) else "body_cut_off"
        elif R.is_timeout(r):
            key = "no_response_timeout"
        elif r.get("connection_reused"):
            key = "stale_connections"
        else:
            key = "connection_dropped"
        groups.setdefault(key, []).append(r)
    for key, records in groups.items():
        ids = view.item_ids(records)
        recovered = view.recovered(ids)
        base: dict[str, Any] = dict(error_types=dict(Counter(str(r.get("error_type")) for r in records)),
                    phase=R.phase(records[0]), recovered_items=len(recovered),
                    reused_connection=sum(1 for r in records if r.get("connection_reused")))
        n = len(records)
        errors = counts(base["error_types"])
        again = f"; {len(recovered)} of the {plural(len(ids), 'item')} concerned succeeded on a later attempt" \
            if ids else ""
        if key == "pool_exhausted":
            yield Finding(key, f"{plural(n, 'attempt')} waited longer than the client's pool timeout for a free "
                               f"connection ({errors}), with up to {plural(view.peak_concurrency, 'request')} in "
                               "flight: the job ran more requests at once than its HTTP client allows connections "
                               "(or left responses open that hold them).",
                          "Raise the client's connection limit (httpx.Limits(max_connections=...)) or its pool "
                          "timeout, or run fewer requests at once (reference worker: --concurrency).",
                          "high", view.evidence(records, peak_concurrency=view.peak_concurrency, **base))
        elif key == "connect_failures":
            later_ok = any((r.get("start_offset_ms") or 0) > max(x.get("start_offset_ms") or 0 for x in records)
                           for r in view.ok)
            where = ", scattered through the job between successful requests" if later_ok else ""
            yield Finding(key, f"{plural(n, 'attempt')} could not connect ({errors}){where}{again}.",
                          "Check the network between the job's host and the server (DNS, firewall, proxy, Wi-Fi) "
                          "and the server's connection limits.",
                          "medium", view.evidence(records, **base))
        elif key == "no_response_timeout":
            ttfb = _ttfb(view)
            came = f" (answers that did come took p95 {seconds(ttfb['p95'])} to start)" if ttfb else ""
            yield Finding(key, f"{plural(n, 'attempt')} sent the request but got no answer before the client's "
                               f"read timeout ({errors}){came}{again}: the server took too long to start answering.",
                          "Find out why the server is slow on these requests (Jellyfin log, CPU and disk of its host, "
                          "a scan or transcode running); a longer read timeout lets the job wait "
                          "(reference worker: --timeout).",
                          "medium", view.evidence(records, ttfb_ms=ttfb, **base))
        elif key == "stale_connections":
            yield Finding(key, f"{plural(n, 'attempt')} failed before any answer on a connection reused from the "
                               f"pool ({errors}){again}: the server or a proxy closes idle keep-alive connections, and "
                               "the client reused one just as it was closed.",
                          "Make the client's keep-alive expiry shorter than the server's or proxy's idle timeout "
                          "(httpx.Limits(keepalive_expiry=...)) or retry once on this error; a new connection per "
                          "request also avoids it, at a cost (reference worker: --session-strategy per-request).",
                          "high" if recovered else "medium", view.evidence(records, **base))
        elif key == "connection_dropped":
            yield Finding(key, f"{plural(n, 'attempt')} lost a new connection before any answer came "
                               f"({errors}){again}: the server or something in between closed it.",
                          "Look at the server's and any proxy's log at these times (crashes, restarts, connection "
                          "limits).", "medium", view.evidence(records, **base))
        else:
            got = _median_bytes(records)
            statuses = counts(Counter(str(r.get("status_code")) for r in records))
            if key == "body_stalled":
                yield Finding(key, f"{plural(n, 'download')} stalled in the middle of the body: the answer "
                                   f"({statuses}) began and about {_size(got)} arrived, then nothing more until "
                                   f"the client's read timeout ({errors}){again}.",
                              "The server or a proxy stopped sending: check the disk or network share Jellyfin "
                              "reads these images from (a slow or hung mount stalls reads) and any proxy buffering; "
                              "a longer read timeout only helps if the data resumes (reference worker: --timeout).",
                              "high", view.evidence(records, bytes_before_failure=got, **base))
            else:
                yield Finding(key, f"{plural(n, 'download')} {verb(n, 'was', 'were')} cut off in the middle of the "
                                   f"body: the answer ({statuses}) began, then the connection closed after about "
                                   f"{_size(got)} ({errors}){again}.",
                              "Look for a proxy or server that ends long transfers (proxy timeouts, body size "
                              "limits, worker restarts) in its log at these times; retrying works when it is rare.",
                              "high", view.evidence(records, bytes_before_failure=got, **base))


def _ttfb(view: JobView) -> dict[str, float] | None:
    found = R.column(view.ok, "ttfb_ms")
    # A column every answer has is an array of floats: ranked in place (``ranks``), never sorted as a list.
    values = found if floats_in_place(found) else R.numbers(found, bools=True)
    if not values:
        return None
    ranks, last = Ranks(values), len(values) - 1

    def pick(p: float) -> float:
        return ranks.nth(min(last, round(p * last)))

    return {"p50": round(pick(0.5), 1), "p95": round(pick(0.95), 1), "max": round(max(values), 1),
            "samples": len(values)}  # answers measured


@rule(("slow_responses", "the server took long to start answering (time to first byte)"),
      ("slow_transfers", "large bodies arrived slowly (low bytes per second)"))
def slowness(view: JobView) -> Iterator[Finding]:
    ttfb = _ttfb(view)
    if ttfb and ttfb["samples"] >= MIN_TTFB_SAMPLES and ttfb["p95"] > SLOW_TTFB_P95_MS:
        slow = R.pick(view.ok, [i for i, ms in enumerate(R.column(view.ok, "ttfb_ms")) if float(ms or 0) >= ttfb["p95"]])
        routes = Counter(str(r.get("route")) for r in slow)
        yield Finding(
            "slow_responses",
            f"The server was slow to start answering: time to first byte p50 {seconds(ttfb['p50'])}, p95 "
            f"{seconds(ttfb['p95'])}, max {seconds(ttfb['max'])} over {plural(int(ttfb['samples']), 'answer')}; "
            f"the slowest were {counts(routes)}.",
            "Check the server's load (CPU, disk, a library scan or transcodes) and lower the job's concurrency; "
            "raise the read timeout if requests time out (reference worker: --timeout, --concurrency).",
            "medium",
            view.evidence(slow, ttfb_ms=ttfb, routes=dict(routes)),
        )
    # By column, then the few records: iterating every answer built each of a big job's records.
    large = R.pick(view.ok, [i for i, (size, ms) in enumerate(zip(R.column(view.ok, "body_bytes"),
                                                                  R.column(view.ok, "body_ms")))
                             if int(size or 0) >= LARGE_BODY_BYTES and float(ms or 0) > 0])
    if len(large) >= MIN_LARGE_BODIES:
        rates = [int(r["body_bytes"]) / (float(r["body_ms"]) / 1000) for r in large]
        rate = median(rates)
        if rate < SLOW_THROUGHPUT:
            yield Finding(
                "slow_transfers",
                f"Large bodies arrived slowly: {plural(len(large), 'download')} of 1 MB or more came at a median "
                f"{rate / 1e6:.2f} MB/s (the answers themselves started in time).",
                "If the server is on the local network, look at the link, the proxy and the server's disk; over "
                "the internet this is the server's upload speed. Give downloads a total timeout that fits.",
                "medium",
                view.evidence(large, throughput_bytes_per_s=int(rate), large_bodies=len(large)),
            )


@rule(("server_closes_connections", "the server or a proxy answers with Connection: close, so nothing is reused"),
      ("connection_churn", "the job opened far more connections than its concurrency needs"))
def connections(view: JobView) -> Iterator[Finding]:
    statuses = R.column(view.requests, "status_code")
    answered = len(statuses) - statuses.count(None)
    closes = R.column(view.requests, "conn_close")
    closing = [r for r, status, close in zip(view.requests, statuses, closes) if close and status is not None] \
        if any(closes) else []
    if len(closing) >= MIN_CLOSE_ANSWERS and len(closing) * 2 >= answered:
        servers = Counter(str(r.get("server") or "no Server header") for r in closing)
        connect = [float(r["connect_ms"]) for r in view.requests if isinstance(r.get("connect_ms"), (int, float))]
        cost = f"; opening each took a median {seconds(median(connect))}" if connect else ""
        yield Finding(
            "server_closes_connections",
            f"{share(len(closing), answered)} answers said Connection: close ({counts(servers)}), so "
            f"the next request after each needed a new connection{cost}: keep-alive is off on the server or a proxy, not "
            "in the job.",
            "Turn keep-alive on where it is off (nginx: keepalive_timeout above 0; for the upstream: "
            "proxy_http_version 1.1 and an empty Connection header); the job's client cannot reuse "
            "connections the server closes.",
            "high",
            view.evidence(closing, connection_close=len(closing), answers=answered),
        )
    reuse = Counter(R.column(view.requests, "connection_reused"))
    new, reused = reuse[False], reuse[True]
    # A pool opens one connection per request in flight, and one more after each closed or broken one.
    broken = sum(1 for r in view.failed if r.get("status_code") is None or R.broke_in_body(r))
    expected = view.peak_concurrency + len(closing) + broken
    excess = new - expected
    if excess >= MIN_EXCESS_CONNECTIONS and excess >= EXCESS_SHARE * (new + reused):
        made = f"; the job created {plural(view.sessions_created, 'HTTP client')}" \
            if view.sessions_created and view.sessions_created > 1 else ""
        yield Finding(
            "connection_churn",
            f"{share(new, new + reused)} attempts opened a new connection although at most "
            f"{view.peak_concurrency} ran at once and the server kept connections open{made}: the job does not "
            "reuse connections.",
            "Create one HTTP client (httpx.Client / AsyncClient, aiohttp.ClientSession, requests.Session) for the "
            "whole job and share it, instead of one per request (reference worker: --session-strategy shared).",
            "high",
            view.evidence([r for r in view.requests if r.get("connection_reused") is False],
                          new_connections=new, reused_connections=reused, peak_concurrency=view.peak_concurrency,
                          expected_new_connections=expected, sessions_created=view.sessions_created),
        )
