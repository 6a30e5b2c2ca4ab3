"""``batch-debug export``: a recorded job replayed to OTLP/HTTP receivers, run as a real process.

Receivers: the project's own ``POST /v1/traces`` (a real ``batch-debug serve``
process, which assembles the spans into a job file again), ``oteltap`` (a
third-party receiver), and a plain ``http.server`` that keeps the raw bytes
it was sent (for the secrets scan, the headers and a refusing answer).

The 10k-request job is recorded by the real reference worker (``batch-debug
run-job --concurrency 8 --no-wait`` against the simulator in this process,
serving 2 KB posters): about 7-8 s for 10,200 real requests, once per run. It
goes to oteltap (protobuf) and to our own receiver by both protocols, one
server for both; a 30-item job with failures checks every field of every
span, by both protocols, in small batches.
"""

from __future__ import annotations

import http.server
import fcntl
import json
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status

from batch_debug.collector import jobfile
from batch_debug.instrumentation import item_span, job_span
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.simulator import JellyfinSimulator
from dashboard_helpers import ServerProcess
from otlp_support import OtelTap, free_port, wait_for
from support import API_KEY, REPO

#: Items of the big job: three requests each (lookup, HEAD and GET of the poster).
BIG_ITEMS = 3400
README = (REPO / "README.md").read_text()


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("APHRODITE_BATCH_DEBUG", "OTEL_"))},
           **(env or {})}
    return subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def spans_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for rs in job["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def span_facts(spans: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Everything a span says, in a canonical order (the receiver may group and order them differently)."""
    return sorted((s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"], s["kind"],
                   str(s["startTimeUnixNano"]), str(s["endTimeUnixNano"]),
                   json.dumps(s.get("attributes", []), sort_keys=True), json.dumps(s.get("events", []), sort_keys=True),
                   json.dumps(s.get("status", {}), sort_keys=True)) for s in spans)


@pytest.fixture(scope="session")
def big_job(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A job file of 10,200 requests (3,400 items), recorded by the real worker against the simulator.

    Recorded once for the whole run: the xdist workers share the base temp folder, and the first to
    take the lock records the job while the others wait for it (pytest-xdist's pattern).
    """
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = shared / "big-job"
    with open(shared / "big-job.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if folder.is_dir() and jobfile.list_job_files(folder):
            return jobfile.list_job_files(folder)[0].path
        folder.mkdir(exist_ok=True)
        return _record_big_job(folder)


def _record_big_job(folder: Path) -> Path:
    # 2 KB posters: the default ones are rendered pixel by pixel (about 6 ms each), which would cost
    # more than the 10k requests themselves.
    sim = JellyfinSimulator(profile="healthy", api_key=API_KEY, item_count=BIG_ITEMS,
                            shapes=Shapes(image_bytes=2048)).start()
    try:
        out = cli("run-job", "--server", sim.url, "--api-key", API_KEY, "--concurrency", "8", "--no-wait",
                  "--job-id", "big", *sim.item_ids, env={"APHRODITE_BATCH_DEBUG": "true",
                                                         "APHRODITE_BATCH_DEBUG_DIR": str(folder)})
    finally:
        sim.stop()
    assert out.returncode == 0, out.stderr[-3000:]
    [info] = jobfile.list_job_files(folder)
    assert jobfile.load_head(info.path)["summary"]["total_requests"] >= 10_000
    return info.path


class RawReceiver:
    """A plain HTTP server that keeps every request (path, headers, body) and answers ``status``."""

    def __init__(self, status: int = 200, body: bytes = b"{}", content_type: str = "application/json") -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.got.append((self.path, dict(self.headers.items()), data))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits up to one poll interval (0.5 s by default) for the loop to notice.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def everything(self) -> bytes:
        return b"".join(path.encode() + json.dumps(headers).encode() + body for path, headers, body in self.got)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def raw_receiver():
    started: list[RawReceiver] = []

    def start(status: int = 200, body: bytes = b"{}", content_type: str = "application/json") -> RawReceiver:
        started.append(RawReceiver(status, body, content_type))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


# -- a job to our own receiver, the big job to one that is not ours ----------------
@pytest.fixture(scope="module")
def mixed_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30-item job with failures, retries and errors (the mixed profile), recorded by the real worker."""
    folder = tmp_path_factory.mktemp("mixed-job")
    out = cli("demo", "--items", "30", "--profile", "mixed", "--no-wait", "--dir", str(folder))
    assert out.returncode in (0, 1), out.stderr[-3000:]
    [info] = jobfile.list_job_files(folder)
    return info.path


def test_a_job_reaches_our_own_receiver_as_the_same_spans_by_either_protocol(mixed_job: Path, tmp_path: Path) -> None:
    original = jobfile.load(mixed_job)
    assert {s.get("status", {}).get("code") for s in spans_of(original)} >= {2}  # errors are in it
    server = ServerProcess(tmp_path / "received", tmp_path / "server.log")
    try:
        for number, protocol in enumerate(("http/protobuf", "http/json"), start=1):
            # Small batches: the job goes out in several requests, as a big job does.
            out = cli("export", str(mixed_job), "--endpoint", server.url, "--protocol", protocol, "--batch-size", "16")
            assert out.returncode == 0, out.stderr
            count = len(spans_of(original))
            assert out.stdout.strip() == f"exported {count} spans of job {original['job_id']} to {server.url}/v1/traces"
            assert out.stderr == ""  # no progress bar outside a terminal, no exporter log lines
            files = wait_for(lambda n=number: len(jobfile.list_job_files(tmp_path / "received")) == n
                             and jobfile.list_job_files(tmp_path / "received"))
            assert files, f"{protocol}: no job file assembled; server log: {server.log.read_text()[-2000:]}"
            rebuilt = jobfile.load(files[0].path)  # the newest
            assert rebuilt["job_id"] == original["job_id"] and rebuilt["trace_id"] == original["trace_id"]
            assert span_facts(spans_of(rebuilt)) == span_facts(spans_of(original)), protocol
            assert rebuilt["summary"] == original["summary"]
    finally:
        server.stop()


def test_a_10k_request_job_reaches_oteltap_with_its_ids_unchanged(big_job: Path) -> None:
    original = spans_of(jobfile.load(big_job))
    wanted = {(s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"]) for s in original}
    tap = OtelTap()
    try:
        out = cli("export", str(big_job), "--endpoint", tap.url)
        assert out.returncode == 0, out.stderr
        received = wait_for(lambda: len(tap.collected()) >= len(original) and tap.collected())
    finally:
        tap.stop()
    assert received, "oteltap got fewer spans than the job has"
    assert len(received) == len(original)
    assert {(s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"]) for s in received} == wanted


def test_a_10k_request_job_reaches_our_own_receiver_with_its_ids_unchanged_by_either_protocol(
        big_job: Path, tmp_path: Path) -> None:
    original = jobfile.load(big_job)
    ids = sorted((s["traceId"], s["spanId"], s.get("parentSpanId", "")) for s in spans_of(original))
    received = tmp_path / "received"
    server = ServerProcess(received, tmp_path / "server.log")
    try:
        # One server for both: the second export of the same trace is assembled into a second job file.
        for number, protocol in enumerate(("http/protobuf", "http/json"), start=1):
            out = cli("export", str(big_job), "--endpoint", server.url, "--protocol", protocol)
            assert out.returncode == 0, (protocol, out.stderr)
            assert out.stdout.startswith(f"exported {len(ids)} spans of job big to "), protocol
            files = wait_for(lambda n=number: len(jobfile.list_job_files(received)) == n
                             and jobfile.list_job_files(received))
            assert files, f"{protocol}: no job file assembled; server log: {server.log.read_text()[-2000:]}"
            rebuilt = jobfile.load(files[0].path)  # the newest
            assert sorted((s["traceId"], s["spanId"], s.get("parentSpanId", "")) for s in spans_of(rebuilt)) == ids
            assert rebuilt["summary"]["total_requests"] == original["summary"]["total_requests"] >= 10_000
    finally:
        server.stop()


# -- what the receiver gets, and failures ---------------------------------------
@pytest.fixture
def secret_job(debug_pipeline, make_sim) -> Path:
    """A recorded job whose requests carried the key in a header, the ApiKey query and Token="..."."""
    sim = make_sim("healthy")
    forms = [({"X-Emby-Token": API_KEY}, {}), ({}, {"ApiKey": API_KEY}),
             ({"Authorization": f'MediaBrowser Client="t", Device="d", DeviceId="1", Version="1", Token="{API_KEY}"'},
              {})]
    ids = sim.demo_item_ids(3, seed=5)
    with job_span("export-secrets", items_total=len(ids)):
        with httpx.Client() as client:
            for item_id, (headers, params) in zip(ids, forms):
                with item_span(item_id):
                    client.get(f"{sim.url}/Items/{item_id}", headers=headers, params=params)
                    client.get(f"{sim.url}/Items/{item_id}/Images/Primary", headers=headers, params=params)
    path = debug_pipeline.job_file("export-secrets")
    assert path is not None
    assert b"[REDACTED]" in path.read_bytes()  # the key was in what was recorded, and was removed
    return path


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_the_key_is_in_nothing_the_receiver_gets_and_headers_arrive(protocol, secret_job: Path, raw_receiver) -> None:
    receiver = raw_receiver()
    out = cli("export", "export-secrets", "--dir", str(secret_job.parent), "--endpoint", receiver.url,
              "--protocol", protocol, "--header", "X-Backend-Key=abc=def", "--header", "x-team = batch")
    assert out.returncode == 0, out.stderr
    assert receiver.got, "nothing was sent"
    for path, headers, _ in receiver.got:
        lower = {k.lower(): v for k, v in headers.items()}
        assert path == "/v1/traces"
        assert lower["content-type"] == ("application/x-protobuf" if protocol == "http/protobuf"
                                         else "application/json")
        assert lower["x-backend-key"] == "abc=def" and lower["x-team"] == "batch"
    sent = receiver.everything()
    assert b"url.full" in sent and b"ApiKey=" in sent and b"[REDACTED]" in sent  # the redacted forms went out
    assert API_KEY.encode() not in sent
    assert API_KEY not in out.stdout + out.stderr


def test_a_refusing_receiver_is_one_line_with_status_and_body(secret_job: Path, raw_receiver) -> None:
    receiver = raw_receiver(400, b'{"error": "wrong tenant"}')
    out = cli("export", str(secret_job), "--endpoint", receiver.url + "/v1/traces", "--header", "X-Key=s3cr3t")
    assert out.returncode == 1
    assert out.stderr.strip() == (f'Error: the receiver at {receiver.url}/v1/traces refused the spans: '
                                  f'HTTP 400: {{"error": "wrong tenant"}}')
    assert len(receiver.got) == 1  # a 400 is final: not retried
    assert "s3cr3t" not in out.stdout + out.stderr
    # An OpenTelemetry Collector answers a protobuf request with a protobuf google.rpc.Status.
    status = Status(code=3, message="unknown tenant").SerializeToString()
    collector = raw_receiver(400, status, "application/x-protobuf")
    out = cli("export", str(secret_job), "--endpoint", collector.url)
    assert out.returncode == 1
    assert out.stderr.strip().endswith("refused the spans: HTTP 400: unknown tenant")


def test_a_refusing_receiver_over_json_is_one_line_with_status_and_reason(secret_job: Path, raw_receiver) -> None:
    receiver = raw_receiver(413, b'{"error": "too big"}')
    out = cli("export", str(secret_job), "--endpoint", receiver.url, "--protocol", "http/json",
              "--header", "X-Key=s3cr3t")
    assert out.returncode == 1
    # OpenTelemetry's JSON exporter passes on the status line, not the body.
    assert out.stderr.strip() == (f"Error: the receiver at {receiver.url}/v1/traces refused the spans: "
                                  f"HTTP 413: Request Entity Too Large")
    assert len(receiver.got) == 1  # a 413 is final: not retried
    assert "s3cr3t" not in out.stdout + out.stderr
    busy = raw_receiver(503, b"busy")
    out = cli("export", str(secret_job), "--endpoint", busy.url, "--protocol", "http/json", "--timeout", "3")
    assert out.returncode == 1
    assert out.stderr.strip() == (f"Error: the receiver at {busy.url}/v1/traces did not take the spans "
                                  f"within 3 s: Service Unavailable")
    # A deadline shorter than the exporter's first back-off: it gives up without a word, which is no
    # evidence that the receiver was out of reach, and the line does not say it was.
    out = cli("export", str(secret_job), "--endpoint", busy.url, "--protocol", "http/json", "--timeout", "1")
    assert out.returncode == 1
    assert out.stderr.strip().startswith(f"Error: the receiver at {busy.url}/v1/traces did not take the spans "
                                         f"within 1 s")
    assert "cannot reach" not in out.stderr


def test_an_unreachable_receiver_is_named_at_once(secret_job: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for protocol in ("http/protobuf", "http/json"):
        # A refused connection is final: with retries until the 600 s deadline (backoff 1+2+4+8+16 s
        # for the JSON exporter) the 20 s process limit would end the test.
        out = cli("export", str(secret_job), "--endpoint", url, "--protocol", protocol, "--timeout", "600",
                  timeout=20)
        assert out.returncode == 1
        assert out.stderr.strip() == (f"Error: cannot reach the OTLP receiver at {url}/v1/traces: "
                                      f"connection refused (is the receiver running, and is this its port?)")


def test_bad_input_is_one_error_line_that_never_quotes_a_header(secret_job: Path, tmp_path: Path) -> None:
    missing = cli("export", str(tmp_path / "nope.json"), "--endpoint", "http://127.0.0.1:1")
    assert missing.returncode == 1 and missing.stderr.strip() == f"Error: no such file: {tmp_path / 'nope.json'}"
    unknown = cli("export", "no-such-job", "--dir", str(secret_job.parent), "--endpoint", "http://127.0.0.1:1")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == f"Error: no job file for job 'no-such-job' in {secret_job.parent}"
    for pair, problem in (("Bearer-t0ken", "has no '='"), ("=t0ken", "has no name before '='"),
                          ("Auth orization=t0ken", "has a name that is not an HTTP header name")):
        bad = cli("export", str(secret_job), "--endpoint", "http://127.0.0.1:1", "--header", "ok=1", "--header", pair)
        assert bad.returncode == 2
        assert f"each --header is NAME=VALUE; header 2 {problem}" in bad.stderr
        assert "t0ken" not in bad.stderr
    not_http = cli("export", str(secret_job), "--endpoint", "collector:4318")
    assert not_http.returncode == 2 and "is not an http(s) URL" in not_http.stderr
    not_a_job = tmp_path / "other.json"
    not_a_job.write_text('{"hello": 1}')
    wrong = cli("export", str(not_a_job), "--endpoint", "http://127.0.0.1:1")
    assert wrong.returncode == 1 and wrong.stderr.strip() == "Error: job file other.json is not a batch-debug job file"


def test_the_readmes_export_commands_work_as_written(secret_job: Path, raw_receiver) -> None:
    """Each ``batch-debug export`` line of README "Viewing traces", its placeholders filled in."""
    section = README.split("## Viewing traces", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("batch-debug export ")]
    assert len(lines) == 2
    for line in lines:
        receiver = raw_receiver()
        words = shlex.split(line.split("  #", 1)[0])
        words = [receiver.url if before == "--endpoint" else "export-secrets" if word == "JOB_ID"
                 else str(secret_job) if word.endswith(".json") else word
                 for before, word in zip(["", *words], words)]
        out = cli(*words[1:], env={"APHRODITE_BATCH_DEBUG_DIR": str(secret_job.parent)})
        assert out.returncode == 0, (line, out.stderr)
        assert out.stdout.startswith("exported ") and receiver.got, line
        if "--header" in words:
            assert all(headers.get("api-key") == "KEY" for _, headers, _ in receiver.got)
