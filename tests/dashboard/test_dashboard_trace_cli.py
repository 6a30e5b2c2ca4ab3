"""``batch-debug trace``: a job's spans, each whole, as the ``/trace`` download gives them, in a file or on stdout.

The job file is real (the recorded job of the dashboard tests: the reference worker against the simulator);
its request spans leave out what their ``requests`` entries give back (format 4), and the command gives
every span back whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from batch_debug.collector import attributes as A
from batch_debug.collector.entry_attributes import GIVEN_BACK
from batch_debug.dashboard.cli import main
from dashboard_helpers import API, RECORDED_JOB


def _spans(document: dict) -> list[dict]:
    return [s for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def _keys(span: dict) -> set[str]:
    return {kv["key"] for kv in span.get("attributes", [])}


def test_the_trace_command_prints_the_download_with_every_request_span_whole(client, add_job, job_dir) -> None:
    path = add_job()
    in_file = [s for s in _spans(json.loads(path.read_text(encoding="utf-8"))) if s.get("kind") == 3]
    assert in_file and not any(GIVEN_BACK & _keys(s) for s in in_file)  # the file's form is slim
    printed = CliRunner().invoke(main, ["trace", RECORDED_JOB, "--dir", str(job_dir)])
    assert printed.exit_code == 0, printed.output
    trace = json.loads(printed.stdout)
    assert trace == json.loads(client.get(f"{API}/job/{RECORDED_JOB}/trace").data)
    attempts = [s for s in _spans(trace) if s.get("kind") == 3]
    assert len(attempts) == len(in_file)
    for span in attempts:  # what a viewer shows of an attempt, and its record
        assert {A.HTTP_METHOD_NEW, A.HTTP_URL_NEW, A.SERVER_ADDRESS, A.SERVER_PORT, A.RECORD} <= _keys(span)


def test_the_trace_command_writes_json_or_protobuf_files(client, add_job, tmp_path) -> None:
    path = add_job()
    runner = CliRunner()
    out = tmp_path / "trace.json"
    written = runner.invoke(main, ["trace", str(path), "-o", str(out)])
    assert written.exit_code == 0, written.output
    assert written.stdout == "" and "spans (OTLP json)" in written.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(client.get(f"{API}/job/{RECORDED_JOB}/trace").data)
    binary = tmp_path / "trace.pb"
    written = runner.invoke(main, ["trace", str(path), "--format", "protobuf", "-o", str(binary)])
    assert written.exit_code == 0, written.output
    body = binary.read_bytes()
    assert body == client.get(f"{API}/job/{RECORDED_JOB}/trace?format=protobuf").data
    request = ExportTraceServiceRequest.FromString(body)
    count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    assert f"{count} spans (OTLP protobuf)" in written.stderr and count == len(_spans(json.loads(out.read_text())))


@pytest.mark.parametrize("mutate,args,expected", [
    (lambda doc: doc.update(resourceSpans={"not": "a list"}), [], "holds no resourceSpans list"),
    (lambda doc: doc["resourceSpans"][0].update(scopeSpans=[{"spans": [{"traceId": "zz"}]}]),
     ["-f", "protobuf"], "not valid OTLP"),
    (None, ["nothing-here"], "no job file"),
])
def test_the_trace_command_ends_with_one_error_line(add_job, job_dir, tmp_path: Path, mutate, args, expected) -> None:
    add_job("broken", mutate=mutate)
    job = args[0] if args and not args[0].startswith("-") else "broken"
    options = [a for a in args if a != job]
    result = CliRunner().invoke(main, ["trace", job, *options, "-o", str(tmp_path / "t"), "--dir", str(job_dir)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr
    assert not (tmp_path / "t").exists()


def test_protobuf_is_not_written_to_a_terminal(add_job, job_dir) -> None:
    import os
    import pty
    import subprocess
    import sys

    add_job()
    leader, follower = pty.openpty()  # a real process whose stdout is a terminal
    try:
        done = subprocess.run([sys.executable, "-m", "batch_debug.dashboard.cli", "trace", RECORDED_JOB, "-f",
                               "protobuf", "--dir", str(job_dir)], stdout=follower, stderr=subprocess.PIPE,
                              text=True, timeout=20)
        os.set_blocking(leader, False)
        try:
            written = os.read(leader, 65536)
        except BlockingIOError:
            written = b""
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 1 and "give -o FILE" in done.stderr, done.stderr
    assert written == b""
