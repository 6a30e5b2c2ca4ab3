"""The per-job server probe: it learns what the server is, and costs a job no TLS context of its own."""

from __future__ import annotations

import ssl
import threading

import httpx
import pytest

from batch_debug.collector import jobfile
from batch_debug.instrumentation import item_span, job_span
from batch_debug.instrumentation.probe import tls_context, verify_for


def test_probes_of_a_plain_http_server_load_no_ca_bundle(debug_pipeline, sim, monkeypatch) -> None:
    """Each job still learns the server, and no probe builds a verifying context (httpx's default client
    loads the whole CA bundle for one: 16 ms of CPU a job, more than a small job's own requests)."""
    made_by_probes: list[str] = []
    real = ssl.create_default_context

    def counting(*args, **kwargs):
        if threading.current_thread().name == "batch-debug-probe":
            made_by_probes.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    for n in range(3):
        with job_span(f"probed-{n}"), httpx.Client() as client, item_span("a"):
            client.get(f"{sim.url}/Items/{sim.item_ids[0]}/Images/Primary")
    for n in range(3):
        path = debug_pipeline.job_file(f"probed-{n}")
        assert path is not None
        environment = jobfile.load(path)["environment"]
        assert environment["server_info"]["ProductName"] == "Jellyfin Server", environment
        assert environment["server_info_error"] is None
    assert made_by_probes == []


def test_https_probes_verify_with_one_shared_context() -> None:
    context = verify_for("https://media.example:8920")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert verify_for("https://other.example") is context is tls_context()


@pytest.mark.parametrize("base", ["http://127.0.0.1:8096", "http://media.local"])
def test_plain_http_probes_verify_nothing(base) -> None:
    assert verify_for(base) is False


def test_the_probes_of_a_process_share_a_client_for_each_scheme(monkeypatch) -> None:
    from batch_debug.instrumentation import probe

    plain, again = probe.probe_client("http://127.0.0.1:1"), probe.probe_client("http://media.local:8096")
    secure = probe.probe_client("https://media.example")
    assert plain is again and secure is not plain
    assert secure is probe.probe_client("https://other.example:8920")
    forked = probe.os.getpid() + 1
    monkeypatch.setattr(probe.os, "getpid", lambda: forked)  # as in a forked child: none of the parent's
    assert probe.probe_client("http://127.0.0.1:1") is not plain
