"""Findings quote the server's own words (``server_said``): a problem document's detail, a page's text, a
trace's message; grouped across items, at most three, trimmed, never a secret, never a proxy's page passed
off as Jellyfin's, and an action that points at what the words name."""

from __future__ import annotations

import http.server
import json
import re

import pytest

from batch_debug.collector import jobfile
from batch_debug.collector.bodytext import gist
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from diagnosis_records import KESTREL, NGINX, Job, attempt, run
from support import API_KEY, Answer, LoopbackServer, NO_WAIT as FAST

IO_ERROR = ("System.IO.IOException: Input/output error reading "
            "'/config/metadata/library/{p}/{i}/poster.jpg'")


def problem(status: int, detail: str | None = None, **extra: object) -> dict:
    """What Jellyfin (ASP.NET Core) answers for an error: an RFC 7807 problem document."""
    body = {"type": "https://tools.ietf.org/html/rfc9110", "title": "An error occurred while processing your request.",
            "status": status, **({"detail": detail} if detail else {}), **extra, "traceId": "00-abc-def-00"}
    return {"content_type": "application/problem+json; charset=utf-8", "error_body": json.dumps(body)}


def ok(item_id: str, **extra) -> dict:
    return attempt(item_id, 200, **extra)


def io_error(item_id: str) -> dict:
    return attempt(item_id, 500, **problem(500, IO_ERROR.format(p=item_id[:2], i=item_id)))


def test_a_problem_documents_detail_is_quoted_with_who_said_it_and_how_often() -> None:
    job = Job(run(ok("a1"), io_error("x1"), ok("b1"), io_error("x1"), ok("c1"), io_error("x1"), ok("d1")))
    found = job.finding("item_server_errors")
    text = IO_ERROR.format(p="x1", i="x1")
    assert found["evidence"]["server_said"] == [text] and found["evidence"]["server_said_attempts"] == [3]
    assert f"Jellyfin answered \u201c{text}\u201d (3 attempts)" in found["cause"]
    assert "An error occurred while processing" not in found["cause"]  # the title says nothing the status does not
    # the action points at what the words name: an I/O error at that file, so the disk under it
    assert found["action"].startswith("Jellyfin reports an I/O error at \u2018/config/metadata/library/x1/x1/"
                                      "poster.jpg\u2019: check that disk")


def test_identical_words_across_items_are_grouped_with_a_count_and_at_most_three_are_kept() -> None:
    said = {"a": "Database is locked", "b": "Database is locked", "c": "Database is locked",
            "d": "Out of memory", "e": "Out of memory", "f": "Thread pool starved", "g": "Something else"}
    records = [attempt(i, 500, content_type="text/plain", error_body=text) for i, text in said.items()]
    job = Job(run(ok("z"), *records, *[ok(i) for i in said]))
    found = job.finding("transient_server_errors")
    assert found["evidence"]["server_said"] == ["Database is locked", "Out of memory", "Thread pool starved"]
    assert found["evidence"]["server_said_attempts"] == [3, 2, 1]
    assert ("Jellyfin answered \u201cDatabase is locked\u201d (3 attempts for 3 items), and 2 other messages "
            "(evidence: server_said).") in found["cause"]


def test_a_long_text_is_trimmed_and_a_stack_trace_gives_its_message_lines() -> None:
    trace = ("System.InvalidOperationException: Sequence contains no elements\n"
             "   at System.Linq.ThrowHelper.ThrowNoElementsException()\n"
             "   at Jellyfin.Api.Controllers.ImageController.GetItemImage(Guid itemId) in /src/Image.cs:line 9\n")
    long = "E" * 500
    job = Job(run(ok("a"), attempt("b", 500, content_type="text/plain", error_body=trace),
                  attempt("c", 500, content_type="text/plain", error_body=long), ok("b"), ok("c")))
    said = job.finding("transient_server_errors")["evidence"]["server_said"]
    assert said[0] == "System.InvalidOperationException: Sequence contains no elements"
    assert len(said[1]) == 200 and said[1].endswith("\u2026")
    assert "System.InvalidOperationException: its log at these times has the stack trace." in \
        job.finding("transient_server_errors")["action"]


@pytest.mark.parametrize("body, message", [
    ('{"title": "One or more validation errors occurred.", "status": 400, '
     '"errors": {"id": ["The value \'zz\' is not valid."]}}',
     "One or more validation errors occurred. \u2014 id: The value 'zz' is not valid."),
    ('{"title": "Not Found", "status": 404}', "Not Found"),
    ('{"error": {"message": "nope"}}', "nope"),
    ("<!DOCTYPE html><html><head><title>Error</title><style>p{}</style></head>"
     "<body><h1>Error</h1><p>Disk quota exceeded</p><script>x()</script></body></html>", "Error / Disk quota exceeded"),
    ("Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    run()\nOSError: [Errno 5] "
     "Input/output error", "OSError: [Errno 5] Input/output error"),
    ("plain words\nsecond line", "plain words / second line"),
])
def test_each_kind_of_body_gives_its_message_and_a_gist_of_a_gist_is_itself(body, message) -> None:
    assert gist(body) == message
    assert gist(message) == message  # the spool keeps gists: the rules read them again


def test_a_proxys_page_is_quoted_as_the_proxys_never_as_jellyfins() -> None:
    page = {"server": NGINX, "content_type": "text/html",
            "error_body": "502 Bad Gateway\nThe upstream server is temporarily unavailable\nnginx/1.25.3"}
    job = Job(run(*[ok(f"i{k}") for k in range(3)], *[attempt(f"o{k}", 502, **page) for k in range(6)],
                  *[ok(f"o{k}") for k in range(6)]))
    assert job.ids == ["outage_window", "proxy_answered"]
    words = "502 Bad Gateway / The upstream server is temporarily unavailable / nginx/1.25.3"
    for finding in job.findings:
        assert finding["evidence"]["server_said"] == [words]
        assert "Jellyfin answered" not in finding["cause"] and "Jellyfin reports" not in finding["action"]
    assert f"The proxy ({NGINX}) answered \u201c{words}\u201d" in job.finding("outage_window")["cause"]
    assert f"given by {NGINX} (an HTML page: \u201c{words}\u201d)" in job.finding("proxy_answered")["cause"]


def test_the_words_of_several_items_name_the_folder_they_share() -> None:
    job = Job(run(ok("a1"), *[io_error(i) for i in ("ab12", "cd34") for _ in range(2)], ok("b1")))
    found = job.finding("item_server_errors")
    assert len(found["evidence"]["server_said"]) == 2
    assert found["action"].startswith("Jellyfin reports an I/O error in files under \u2018/config/metadata/library"
                                      "\u2019: check that disk")


def test_400_and_other_4xx_quote_the_words_and_answers_without_a_body_quote_nothing() -> None:
    bad = Job(run(ok("a"), attempt("12345", 400, **problem(400, "Invalid item id '12345'"))))
    assert "Jellyfin answered \u201cInvalid item id '12345'\u201d (1 attempt)" in bad.finding("invalid_item_ids")["cause"]
    bare = Job(run(ok("a"), attempt("b", 503), ok("b")))
    found = bare.finding("transient_server_errors")
    assert "server_said" not in found["evidence"] and "answered \u201c" not in found["cause"]
    assert found["evidence"]["servers"] == {KESTREL: 1}


# -- real job files ----------------------------------------------------------------------------------

def _load(pipeline, job_id: str) -> dict:
    path = pipeline.job_file(job_id)
    assert path is not None, f"no job file for {job_id}"
    return jobfile.load(path)


def test_a_mixed_profile_job_quotes_jellyfins_io_error_for_its_broken_items(debug_pipeline, make_sim) -> None:
    """The simulator's mixed profile: every 25th item answers 500 with an IOException detail on every attempt."""
    sim = make_sim("mixed", seed=11, latency_scale=0)
    ids = sim.item_ids[:50]
    broken = [i for i in sim.broken_item_ids if i in ids]
    assert len(broken) == 2
    run_job(WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=4, **FAST), ids, "said-mixed")
    summary = _load(debug_pipeline, "said-mixed")["summary"]
    found = {f["id"]: f for f in summary["findings"]}["item_server_errors"]
    expected = [IO_ERROR.format(p=i[:2], i=i) for i in broken]
    assert sorted(found["evidence"]["server_said"]) == sorted(expected)
    assert any(f"Jellyfin answered \u201c{text}\u201d" in found["cause"] for text in expected)
    assert "an I/O error in files under \u2018/config/metadata/library\u2019" in found["action"]
    assert any(expected[0] in line or expected[1] in line for line in summary["recommendations"])


def _echo_the_key(request: http.server.BaseHTTPRequestHandler) -> Answer:
    """Every answer a 500 that echoes the request's headers in its body (as debug pages do)."""
    sent = re.search(r'(?:Token="|[?&](?:api_key|ApiKey)=)([^"&]+)', f"{request.headers.get('Authorization')} {request.path}")
    detail = f"Bad request from key {sent.group(1) if sent else None}: see {dict(request.headers)}"
    return 500, {"Content-Type": "application/problem+json"}, json.dumps({"title": "Server error", "detail": detail}).encode()


@pytest.mark.parametrize("auth", ["header", "query"])
def test_words_that_echo_the_key_are_quoted_redacted(debug_pipeline, auth) -> None:
    server = LoopbackServer(_echo_the_key)
    try:
        run_job(WorkerConfig(server=server.url, api_key=API_KEY, auth=auth, max_attempts=2, **FAST),
                ["0123456789abcdef0123456789abcdef"], f"said-secret-{auth}")
    finally:
        server.close()
    summary = _load(debug_pipeline, f"said-secret-{auth}")["summary"]
    quoted = [text for f in summary["findings"] for text in f["evidence"].get("server_said", [])]
    assert quoted and all(text.startswith("Bad request from key [REDACTED]: see") for text in quoted)
    assert API_KEY not in json.dumps(summary)
