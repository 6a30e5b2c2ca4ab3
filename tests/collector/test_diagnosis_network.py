"""Diagnosis of attempts that got no connection for a reason their error names (rules_network), and the
availability and transport rules leaving those to it."""

from __future__ import annotations

import pytest

from batch_debug.collector.net_errors import essence
from diagnosis_records import Job, attempt, broken, case, run

VERIFY = "ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {} (_ssl.c:1006)"


def refused_by_tls(item_id: str, why: str, error_type: str = "ConnectError") -> dict:
    return broken(item_id, error_type, "connect", error_message=VERIFY.format(why))


@case("tls_certificate_untrusted")
def self_signed() -> Job:
    return Job(run(*(refused_by_tls(i, "self-signed certificate") for i in ("a", "b", "c"))))


@case("tls_certificate_expired")
def expired_mid_job() -> Job:
    """Posters came, then the certificate ran out (a renewal that did not happen) and every later one failed."""
    return Job(run(attempt("a"), attempt("b"), refused_by_tls("c", "certificate has expired"),
                   refused_by_tls("d", "certificate has expired")))


@case("tls_hostname_mismatch")
def other_name() -> Job:
    return Job(run(refused_by_tls("a", "Hostname mismatch, certificate is not valid for 'jellyfin.lan'.")))


@case("tls_not_spoken")
def https_to_plain_port() -> Job:
    return Job(run(broken("a", "ConnectError", "connect",
                          error_message="ConnectError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")))


@case("tls_handshake_failed")
def protocol_refused() -> Job:
    return Job(run(broken("a", "ConnectError", "connect", error_message="ConnectError: [SSL: TLSV1_ALERT_PROTOCOL_"
                          "VERSION] tlsv1 alert protocol version (_ssl.c:1006)")))


@case("name_not_resolved")
def no_such_name() -> Job:
    return Job(run(*(broken(i, "ConnectError", "connect", error_message="ConnectError: [Errno -2] Name or service "
                                                                         "not known") for i in ("a", "b"))))


@case("network_unreachable")
def no_route() -> Job:
    return Job(run(attempt("a"), broken("b", "ConnectError", "connect",
                                        error_message="ConnectError: [Errno 113] No route to host"), attempt("c")))


@case("server_unavailable")
def nothing_listens() -> Job:
    return Job(run(*(broken(i, "ConnectError", "connect", error_message="ConnectError: [Errno 111] Connection "
                                                                         "refused") for i in ("a", "b"))))


@case("server_unavailable")
def reset_without_words() -> Job:
    """A reset in the handshake whose words name nothing: quoted, never called a refusal."""
    return Job(run(*(broken(i, "ClientConnectorError", "connect", error_message="ClientConnectorError: Cannot connect "
                            "to host 127.0.0.1:8920 ssl:default [None]") for i in ("a", "b"))))


def test_each_named_cause_is_the_only_finding_and_quotes_the_reason():
    for job, finding_id, words in ((self_signed(), "tls_certificate_untrusted", "self-signed certificate"),
                                   (other_name(), "tls_hostname_mismatch", "not valid for 'jellyfin.lan'"),
                                   (no_such_name(), "name_not_resolved", "[Errno -2] Name or service not known"),
                                   (no_route(), "network_unreachable", "No route to host")):
        assert job.ids == [finding_id]
        found = job.finding(finding_id)
        assert found["confidence"] == "high" and words in found["cause"] and words in found["evidence"]["errors_said"][0]


def test_an_expired_certificate_mid_job_is_named_with_the_items_it_cost():
    found = expired_mid_job().finding("tls_certificate_expired")
    assert expired_mid_job().ids == ["tls_certificate_expired"]  # no outage or "went down" for a certificate
    assert found["cause"].startswith("2 attempts (2 items: c, d) got no connection (\u201c[SSL: CERTIFICATE_VERIFY_"
                                     "FAILED] certificate verify failed: certificate has expired\u201d)")
    assert found["evidence"]["errors_said_attempts"] == [2]


def test_a_refusal_is_still_nothing_listening_and_a_wordless_reset_is_quoted_not_called_one():
    refused = nothing_listens().finding("server_unavailable")["cause"]
    assert "nothing accepted connections" in refused
    reset = reset_without_words().finding("server_unavailable")["cause"]
    assert "nothing accepted connections" not in reset and "The client said \u201cClientConnectorError" in reset


def test_a_file_without_error_messages_reads_as_before():
    """Job files written before the error's words were kept: a connect failure is a refusal, as it was."""
    old = Job(run(broken("a", "ConnectError", "connect"), broken("b", "ConnectError", "connect")))
    assert old.ids == ["server_unavailable"] and "nothing accepted" in old.finding("server_unavailable")["cause"]


@pytest.mark.parametrize(("message", "said"), [
    ("ClientConnectorCertificateError: Cannot connect to host 127.0.0.1:8920 ssl:True [SSLCertVerificationError: "
     "(1, \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not "
     "valid for '127.0.0.1'. (_ssl.c:1006)\")]",
     "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not valid "
     "for '127.0.0.1'."),
    ("SSLError: HTTPSConnectionPool(host='h', port=8920): Max retries exceeded with url: /x (Caused by SSLError("
     "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has "
     "expired (_ssl.c:1006)')))",
     "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired"),
    ("ConnectError: [Errno -2] Name or service not known", "[Errno -2] Name or service not known"),
    ("ReadTimeout: The read operation timed out", "ReadTimeout: The read operation timed out"),
])
def test_the_telling_words_are_taken_out_of_each_clients_wrapping(message: str, said: str):
    assert essence(message) == said
