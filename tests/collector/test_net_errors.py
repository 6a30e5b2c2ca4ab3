"""Why an attempt got no connection, from its error's words (``collector.net_errors``): the words each client
really gives (httpx, aiohttp, requests), for TLS, DNS, refusals and no route."""

from __future__ import annotations

import pytest

from batch_debug.collector.net_errors import CAUSES, TLS, cause_of

VERIFY = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {} (_ssl.c:1006)"
AIOHTTP = "Cannot connect to host 127.0.0.1:34489 ssl:True [SSLCertVerificationError: (1, '{}')]"
REQUESTS = ("HTTPSConnectionPool(host='127.0.0.1', port=34489): Max retries exceeded with url: /Items/a/Images/"
            "Primary (Caused by SSLError(SSLCertVerificationError(1, '{}')))")
WHY = {
    "tls_untrusted": ["unable to get local issuer certificate", "self-signed certificate",
                      "self signed certificate in certificate chain", "unable to verify the first certificate"],
    "tls_expired": ["certificate has expired"],
    "tls_hostname": ["IP address mismatch, certificate is not valid for '127.0.0.1'.",
                     "Hostname mismatch, certificate is not valid for 'jellyfin.lan'."],
}


@pytest.mark.parametrize("cause", list(WHY))
def test_certificate_failures_read_alike_on_every_client(cause: str) -> None:
    for why in WHY[cause]:
        said = VERIFY.format(why)
        assert cause_of("ConnectError", said) == cause  # httpx
        assert cause_of("ClientConnectorCertificateError", AIOHTTP.format(said)) == cause
        assert cause_of("SSLError", REQUESTS.format(said)) == cause


@pytest.mark.parametrize(("error_type", "message", "cause"), [
    ("ConnectError", "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", "tls_not_tls"),
    ("ConnectError", "[SSL: RECORD_LAYER_FAILURE] record layer failure (_ssl.c:1010)", "tls_not_tls"),
    ("ConnectError", "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1006)",
     "tls_handshake"),
    ("ConnectError", "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1006)",
     "tls_handshake"),
    ("ConnectTimeout", "_ssl.c:989: The handshake operation timed out", "tls_handshake"),
    ("ConnectError", "[Errno -2] Name or service not known", "dns"),
    ("ConnectError", "[Errno -3] Temporary failure in name resolution", "dns"),
    ("ClientConnectorDNSError", "Cannot connect to host jellyfin.lan:8096 ssl:default [Name or service not known]",
     "dns"),
    ("ConnectionError", "HTTPConnectionPool(host='jellyfin.lan', port=8096): Max retries exceeded (Caused by "
     "NameResolutionError(\"<urllib3.connection.HTTPConnection object>: Failed to resolve 'jellyfin.lan' "
     "([Errno -2] Name or service not known)\"))", "dns"),
    ("ConnectError", "[Errno 111] Connection refused", "refused"),
    ("ClientConnectorError", "Cannot connect to host 127.0.0.1:9 ssl:default [Connect call failed ('127.0.0.1', 9)]",
     "refused"),
    ("ConnectError", "[Errno 113] No route to host", "unreachable"),
    ("ConnectError", "[Errno 101] Network is unreachable", "unreachable"),
])
def test_other_connection_failures_are_told_by_their_words(error_type: str, message: str, cause: str) -> None:
    assert cause_of(error_type, message) == cause


def test_words_that_name_no_cause_give_none() -> None:
    for error_type, message in (("ConnectTimeout", "timed out"), ("ReadTimeout", "The read operation timed out"),
                                ("RemoteProtocolError", "Server disconnected without sending a response."),
                                (None, None), ("", "")):
        assert cause_of(error_type, message) is None
    assert TLS < set(CAUSES) and len(TLS) == 5
