"""No connection, for a reason the error names: an untrusted, expired or misnamed certificate, https to a port
without TLS, a name that does not resolve. Real handshakes over loopback, on three clients.

The certificates are made for the run with ``openssl`` (``tls_support``); the
poster server speaks HTTPS with them. Each job is a few lines written here
(httpx, aiohttp, requests), trusting the test CA where the case needs the
certificate to be checked past trust. Name resolution cannot fail for real
here (no DNS server): ``socket.getaddrinfo`` is made to fail for one name,
as a resolver without an answer would.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import requests

from batch_debug.instrumentation import item_span, job_span
from scenario_checks import check_common, load
from tls_support import Certificates, https_server

IDS = ["a1" * 16, "b2" * 16, "c3" * 16]


def _with_httpx(base: str, job: str, ca: Path | None) -> int:
    verify: Any = ssl.create_default_context(cafile=str(ca)) if ca else True
    sent = 0
    with job_span(job, items_total=len(IDS)), httpx.Client(verify=verify, timeout=5) as client:
        for item_id in IDS:
            with item_span(item_id) as item:
                sent += 1
                try:
                    client.get(f"{base}/Items/{item_id}/Images/Primary")
                except httpx.TransportError as exc:
                    item.fail(type(exc).__name__)
    return sent


def _with_aiohttp(base: str, job: str, ca: Path | None) -> int:
    context: Any = ssl.create_default_context(cafile=str(ca)) if ca else True

    async def run() -> int:
        sent = 0
        async with job_span(job, items_total=len(IDS)):
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                for item_id in IDS:
                    async with item_span(item_id) as item:
                        sent += 1
                        try:
                            async with session.get(f"{base}/Items/{item_id}/Images/Primary", ssl=context) as answer:
                                await answer.read()
                        except aiohttp.ClientError as exc:
                            item.fail(type(exc).__name__)
        return sent

    return asyncio.run(run())


def _with_requests(base: str, job: str, ca: Path | None) -> int:
    sent = 0
    with job_span(job, items_total=len(IDS)), requests.Session() as session:
        for item_id in IDS:
            with item_span(item_id) as item:
                sent += 1
                try:
                    session.get(f"{base}/Items/{item_id}/Images/Primary", verify=str(ca) if ca else True, timeout=5)
                except requests.RequestException as exc:
                    item.fail(type(exc).__name__)
    return sent


CLIENTS: dict[str, Callable[[str, str, Path | None], int]] = {
    "httpx": _with_httpx, "aiohttp": _with_aiohttp, "requests": _with_requests}


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Certificates:
    """Made once for the whole run: the first xdist worker to take the lock makes them, the others wait
    and read them (about 1.5 s each, most of it waiting for the expired one to expire)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    return Certificates.shared(shared / "certs")


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize(("case", "finding_id", "words"), [
    ("untrusted", "tls_certificate_untrusted", "unable to get local issuer certificate"),
    ("expired", "tls_certificate_expired", "certificate has expired"),
    ("other_name", "tls_hostname_mismatch", "certificate is not valid for '127.0.0.1'"),
])
def test_a_certificate_the_client_refuses_is_named_not_called_a_dead_server(
        debug_pipeline, certs: Certificates, client: str, case: str, finding_id: str, words: str) -> None:
    leaf = certs.valid if case == "untrusted" else getattr(certs, case)
    job = f"tls-{case}-{client}"
    with https_server(leaf) as base:
        sent = CLIENTS[client](base, job, None if case == "untrusted" else certs.ca)
    data = load(debug_pipeline, job)
    found = check_common(data, sent, forbidden=("server_unavailable", "connect_failures", "unexplained_failures",
                                                "connection_dropped"))
    assert list(found) == [finding_id]
    finding = found[finding_id]
    assert finding["confidence"] == "high" and finding["evidence"]["attempts"] == len(IDS)
    assert words in finding["evidence"]["errors_said"][0] and words in finding["cause"]
    assert all(words in r["error_message"] and r["status_code"] is None for r in data["requests"])


@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_trusted_certificate_gives_no_finding(debug_pipeline, certs: Certificates, client: str) -> None:
    with https_server(certs.valid) as base:
        sent = CLIENTS[client](base, f"tls-ok-{client}", certs.ca)
    data = load(debug_pipeline, f"tls-ok-{client}")
    assert check_common(data, sent) == {} and data["summary"]["successful_requests"] == sent
    assert not any("error_message" in r for r in data["requests"])


@pytest.mark.parametrize("client", list(CLIENTS))
def test_https_to_a_port_without_tls_is_told_apart(debug_pipeline, sim, client: str) -> None:
    """The simulator speaks plain HTTP: an https:// URL to its port fails in the handshake.

    aiohttp's error names no TLS reason here ("Cannot connect to host ... [None]", the connection reset):
    the job is then unavailable, its words quoted, and never "nothing accepted connections"."""
    job = f"not-tls-{client}"
    sent = CLIENTS[client](sim.url.replace("http://", "https://"), job, None)
    data = load(debug_pipeline, job)
    found = check_common(data, sent, forbidden=("connect_failures", "unexplained_failures"))
    assert len(found) == 1
    (finding_id, finding), = found.items()
    assert finding["evidence"]["attempts"] == sent
    if client == "aiohttp":
        assert finding_id == "server_unavailable" and "nothing accepted connections" not in finding["cause"]
        assert "The client said \u201cClientConnectorError: Cannot connect to host" in finding["cause"]
    else:
        assert finding_id in ("tls_not_spoken", "tls_handshake_failed"), finding_id
        assert finding["evidence"]["errors_said"][0].startswith("[SSL: ")


@pytest.fixture
def no_name(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``jellyfin.invalid`` resolves to nothing, as with a resolver that has no answer for it."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("jellyfin.invalid", b"jellyfin.invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield "jellyfin.invalid"


@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_name_that_does_not_resolve_is_named(debug_pipeline, no_name: str, client: str) -> None:
    job = f"dns-{client}"
    sent = CLIENTS[client](f"http://{no_name}:8096", job, None)
    data = load(debug_pipeline, job)
    found = check_common(data, sent, forbidden=("server_unavailable", "connect_failures", "unexplained_failures"))
    assert list(found) == ["name_not_resolved"]
    assert "Name or service not known" in found["name_not_resolved"]["cause"]


@pytest.mark.parametrize("client", list(CLIENTS))
def test_a_closed_port_is_still_nothing_listening(debug_pipeline, client: str) -> None:
    """A refusal is no certificate problem: the availability rule keeps it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    job = f"refused-{client}"
    sent = CLIENTS[client](f"http://127.0.0.1:{port}", job, None)
    data = load(debug_pipeline, job)
    found = check_common(data, sent)
    assert list(found) == ["server_unavailable"] and "nothing accepted connections" in found["server_unavailable"]["cause"]
