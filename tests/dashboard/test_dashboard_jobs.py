"""Reading job files through the API: summary, full log, OTLP trace, job list."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from batch_debug.collector import jobfile
from batch_debug.collector.span_records import with_records
from dashboard_helpers import API, RECORDED_JOB

BAD_IDS = ["../etc", "a/b", "%2e%2e", "..", "x" * 200, "a%20b", "job%2F..%2Fsecret", "..%2F..%2Fetc%2Fpasswd",
           "a..b", "semi;colon", "a%00b", "%00", "x" * 129, "C:%5Cwindows"]
# An id that starts with a slash matches no route at all: 404, as JSON.
ABSOLUTE_IDS = ["%2Fetc%2Fpasswd", "/etc/passwd", "//etc/passwd"]
JOB_ENDPOINTS = ["summary", "full-log", "trace"]


@pytest.mark.parametrize("what", JOB_ENDPOINTS)
@pytest.mark.parametrize("job_id", BAD_IDS)
def test_invalid_job_ids_are_400_with_the_rule(client, add_job, what, job_id) -> None:
    add_job()
    answer = client.get(f"{API}/job/{job_id}/{what}")
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["error"]["status"] == 400
    assert "invalid job id" in body["error"]["message"] and "A-Z a-z 0-9" in body["error"]["message"]


@pytest.mark.parametrize("what", JOB_ENDPOINTS)
@pytest.mark.parametrize("job_id", ABSOLUTE_IDS)
def test_absolute_paths_as_job_ids_are_404(client, add_job, what, job_id) -> None:
    add_job()
    answer = client.get(f"{API}/job/{job_id}/{what}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["status"] == 404


@pytest.mark.parametrize("what", JOB_ENDPOINTS)
def test_unknown_jobs_are_404(client, add_job, what) -> None:
    add_job("another-job")
    answer = client.get(f"{API}/job/no-such-job/{what}")
    assert answer.status_code == 404
    assert "no-such-job" in answer.get_json()["error"]["message"]


def test_summary_is_the_recorded_jobs_summary(client, add_job, recorded_job_file) -> None:
    add_job()
    answer = client.get(f"{API}/job/{RECORDED_JOB}/summary")
    assert answer.status_code == 200
    summary = answer.get_json()
    assert summary == json.loads(recorded_job_file.read_text())["summary"]
    # The mixed simulator's batch shows the failures the page must explain.
    assert summary["items_total"] == 10 and summary["items_failed"] >= 3
    assert {"400", "404"} <= set(summary["status_code_breakdown"])
    assert summary["total_requests"] == sum(summary["status_code_breakdown"].values())
    assert summary["recommendations"] and summary["failure_patterns"]


def test_summary_comes_from_the_newest_file_of_the_job(client, add_job) -> None:
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)

    def marked(n: int):
        return lambda doc: doc["summary"].update(total_requests=n)

    add_job("twice", when=base, mutate=marked(111))
    add_job("twice", when=base + timedelta(hours=1), mutate=marked(222))
    add_job("twice", when=base - timedelta(hours=1), mutate=marked(333))
    assert client.get(f"{API}/job/twice/summary").get_json()["total_requests"] == 222


@pytest.mark.parametrize("content", ["{truncated", "", "[]", '{"job_id": "x"}', "\xff\xfe"],
                         ids=["truncated", "empty", "array", "no-summary", "not-utf8"])
def test_a_damaged_file_is_422_naming_it(client, job_dir, content) -> None:
    path = job_dir / "job_broken_20260101_120000.json"
    path.write_bytes(content.encode("latin-1"))
    for what in ("summary", "trace", "full-log"):
        answer = client.get(f"{API}/job/broken/{what}")
        assert answer.status_code == 422, what
        assert path.name in answer.get_json()["error"]["message"]
    listed = client.get(f"{API}/jobs").get_json()["jobs"]
    assert [(j["job_id"], j["total_requests"]) for j in listed] == [("broken", None)]
    assert path.name in listed[0]["error"]


@pytest.mark.parametrize("where", ["inside a value", "after a request", "after a span"])
def test_a_file_cut_short_after_its_summary_is_422_for_full_log_and_trace(client, add_job, where) -> None:
    path = add_job("cut")
    whole = path.read_bytes()
    requests_at, spans_at = whole.index(b'"requests":['), whole.index(b'"resourceSpans":[')
    if where == "inside a value":  # the head (summary) is whole, the requests are not
        cut = whole.index(b'"url":"', requests_at) + 10
    elif where == "after a request":  # a cut after any "}" passed as whole once
        cut = whole.index(b"},{", requests_at) + 1
    else:
        cut = whole.index(b"}},{", spans_at) + 2
    path.write_bytes(whole[:cut])
    assert client.get(f"{API}/job/cut/summary").status_code == 200
    for what in ("trace", "full-log"):
        answer = client.get(f"{API}/job/cut/{what}")
        assert answer.status_code == 422, what
        assert path.name in answer.get_json()["error"]["message"]


def test_full_log_downloads_the_newest_file_as_is(client, add_job) -> None:
    add_job(when=datetime(2026, 1, 1, tzinfo=timezone.utc))
    newest = add_job(when=datetime(2026, 1, 2, tzinfo=timezone.utc))
    answer = client.get(f"{API}/job/{RECORDED_JOB}/full-log")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and f"filename={newest.name}" in disposition
    assert answer.data == newest.read_bytes()
    answer.close()
    document = json.loads(newest.read_text())
    assert {"job_id", "complete", "generated_at", "summary", "environment", "requests", "resourceSpans"} <= set(document)


def test_trace_is_pure_otlp_json_of_the_job(client, add_job, recorded_job_file) -> None:
    add_job()
    answer = client.get(f"{API}/job/{RECORDED_JOB}/trace")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="job_{RECORDED_JOB}_trace.json"'
    body = answer.get_json()
    assert list(body) == ["resourceSpans"]
    document = json.loads(recorded_job_file.read_text())
    assert body["resourceSpans"] == with_records(document["resourceSpans"], document["requests"])
    spans = [span for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]]
    assert len({span["traceId"] for span in spans}) == 1  # one job, one trace
    assert any(span["name"] == "batch job" for span in spans)
    assert sum(1 for span in spans if span.get("kind") == 3) == json.loads(
        recorded_job_file.read_text())["summary"]["total_requests"]  # one CLIENT span per attempt


def test_jobs_pages_through_files_newest_first_with_headlines(client, add_job, recorded_job_file) -> None:
    start = datetime(2026, 2, 1, tzinfo=timezone.utc)
    for n in range(5):
        add_job(f"batch-{n}", when=start + timedelta(days=n))
    first = client.get(f"{API}/jobs?page=1&per_page=2").get_json()
    assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 2, 5, 3)
    assert [j["job_id"] for j in first["jobs"]] == ["batch-4", "batch-3"]
    last = client.get(f"{API}/jobs?page=3&per_page=2").get_json()
    assert [j["job_id"] for j in last["jobs"]] == ["batch-0"]
    assert client.get(f"{API}/jobs?page=9&per_page=2").get_json()["jobs"] == []
    summary = json.loads(recorded_job_file.read_text())["summary"]
    row = first["jobs"][0]
    assert row["filename"] == "job_batch-4_20260205_000000.json" and row["complete"] is True
    for key in ("total_requests", "failed_requests", "success_rate_percent", "items_total", "items_failed"):
        assert row[key] == summary[key], key
    default = client.get(f"{API}/jobs").get_json()
    assert (default["page"], default["per_page"], len(default["jobs"])) == (1, 20, 5)


@pytest.mark.parametrize("stray", ["job_x_20261301_000000.json", "job_x_2026\u0661101_000000.json"])
def test_a_stray_name_shaped_like_a_job_files_hides_nothing(client, job_dir, add_job, stray) -> None:
    """A name like ours with no date in it (month 13, another script's digit) is no job file: the list, the
    status and the job's own routes go on without it (it made every listing fail with a 500)."""
    add_job("real", when=datetime(2026, 2, 1, tzinfo=timezone.utc))
    (job_dir / stray).write_text("{}")
    listed = client.get(f"{API}/jobs")
    assert listed.status_code == 200 and [j["job_id"] for j in listed.get_json()["jobs"]] == ["real"]
    status = client.get(f"{API}/status").get_json()
    assert status["debug_files_total"] == 1 and [f["job_id"] for f in status["recent_debug_files"]] == ["real"]
    assert client.get(f"{API}/job/x/summary").status_code == 404
    assert client.get(f"{API}/job/real/summary").status_code == 200


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=0", "per_page=101", "page=-1", "per_page=2.5"])
def test_jobs_rejects_bad_paging_with_400(client, query) -> None:
    answer = client.get(f"{API}/jobs?{query}")
    assert answer.status_code == 400
    assert "page" in answer.get_json()["error"]["message"]


def test_jobs_rereads_a_file_only_when_it_changed(client, job_dir, add_job) -> None:
    path = add_job("changing")
    assert client.get(f"{API}/jobs").get_json()["jobs"][0]["total_requests"] > 0
    document = json.loads(path.read_text())
    document["summary"]["total_requests"] = 987654
    path.write_text(json.dumps(document))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert client.get(f"{API}/jobs").get_json()["jobs"][0]["total_requests"] == 987654


def test_job_ids_never_reach_outside_the_folder(client, job_dir) -> None:
    outside = job_dir.parent / "job_outside_20260101_000000.json"
    outside.write_text(json.dumps({"job_id": "outside", "summary": {"secret": 1}}))
    for job_id in ("../outside", "..%2Foutside", "outside"):
        answer = client.get(f"{API}/job/{job_id}/summary")
        assert answer.status_code in (400, 404)
        assert b"secret" not in answer.data


def test_a_file_cut_in_its_request_list_still_shows_its_summary(client, add_job) -> None:
    """Files are written head first: a cut tail (disk full, killed writer) keeps the summary readable."""
    path = add_job("cut-short")
    raw = path.read_bytes()
    cut = raw.index(b',"requests":[') + 200
    path.write_bytes(raw[:cut])
    summary = client.get(f"{API}/job/cut-short/summary")
    assert summary.status_code == 200 and summary.get_json()["job_id"] == "cut-short"
    assert client.get(f"{API}/jobs").get_json()["jobs"][0]["total_requests"] == summary.get_json()["total_requests"]
    trace = client.get(f"{API}/job/cut-short/trace")
    assert trace.status_code == 422 and path.name in trace.get_json()["error"]["message"]


def test_a_file_another_process_writes_shows_in_a_remembered_listing(job_dir, tmp_path) -> None:
    """The dashboard (a process) remembers a quiet folder's names; a job file a worker (another process)
    writes moves the folder's time, and the next listing has it."""
    import subprocess
    import sys
    import time as clock

    import httpx

    from dashboard_helpers import ServerProcess

    for n in range(3):
        jobfile.write_atomic(job_dir, f"old-{n}", "{}", datetime(2026, 2, 1, n, tzinfo=timezone.utc))
    quiet = clock.time() - 60
    os.utime(job_dir, (quiet, quiet))
    server = ServerProcess(job_dir, tmp_path / "server.log")
    try:
        def listed() -> list[str]:
            answer = httpx.get(f"{server.url}{API}/jobs", timeout=10)
            assert answer.status_code == 200
            return [row["job_id"] for row in answer.json()["jobs"]]

        assert listed() == ["old-2", "old-1", "old-0"] == listed()  # the second from the remembered names
        subprocess.run([sys.executable, "-c", "import sys; from datetime import datetime, timezone; from pathlib import Path; "
                        "from batch_debug.collector import jobfile; "
                        "jobfile.write_atomic(Path(sys.argv[1]), 'new', '{}', datetime(2026, 3, 1, tzinfo=timezone.utc))",
                        str(job_dir)], check=True, timeout=60)
        assert listed()[0] == "new"
        gone = job_dir / "job_old-2_20260201_020000.json"
        subprocess.run([sys.executable, "-c", "import os, sys; os.unlink(sys.argv[1])", str(gone)], check=True)
        assert listed() == ["new", "old-1", "old-0"]
    finally:
        server.stop()

