"""``batch-debug export`` when things go wrong or could leak: the key is in nothing a receiver gets, a refusing
or unreachable receiver is one clear line, bad input never quotes a header; and the README's export
commands work as written."""

from __future__ import annotations

import shlex
from pathlib import Path

import httpx
import pytest
from google.rpc.status_pb2 import Status

from batch_debug.instrumentation import item_span, job_span
from export_helpers import README, RawReceiver, cli
from otlp_support import free_port
from support import API_KEY


@pytest.fixture
def raw_receiver():
    started: list[RawReceiver] = []

    def start(status: int = 200, body: bytes = b"{}", content_type: str = "application/json") -> RawReceiver:
        started.append(RawReceiver(status, body, content_type))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


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
