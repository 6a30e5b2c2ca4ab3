"""Why an attempt got no connection, read from its error's type and words: TLS, DNS, refused, unreachable.

Usage::

    cause_of("ConnectError", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed ...")
    # "tls_untrusted"

Every client names these failures its own way (httpx's ``ConnectError``,
aiohttp's ``ClientConnectorCertificateError``, requests' ``SSLError`` with
urllib3's text inside), but they all carry the operating system's or
OpenSSL's words, and those are the same: so the words decide, the type
helps. Causes (:data:`CAUSES`):

- ``tls_untrusted``: the server's certificate is not trusted by the client
  (self-signed, a private CA, a chain without its intermediate);
- ``tls_expired``: the certificate has expired (or is not valid yet);
- ``tls_hostname``: the certificate is for another name than the URL's;
- ``tls_not_tls``: the port does not speak TLS (an ``https://`` URL on a
  plain-HTTP port: "wrong version number");
- ``tls_handshake``: any other TLS failure (a protocol or cipher refused, the
  handshake cut off);
- ``dns``: the host name could not be resolved;
- ``refused``: nothing accepts connections at that address and port;
- ``unreachable``: no route to the address (network down, firewall, VPN).

None when the words say none of these. Pure: no I/O.
"""

from __future__ import annotations

import re

CAUSES = ("tls_untrusted", "tls_expired", "tls_hostname", "tls_not_tls", "tls_handshake", "dns", "refused",
          "unreachable")
#: Causes that are the TLS handshake's.
TLS = frozenset(c for c in CAUSES if c.startswith("tls_"))

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((cause, re.compile(pattern, re.IGNORECASE)) for cause, pattern in (
    ("tls_expired", r"certificate has expired|certificate is not yet valid|CERT_HAS_EXPIRED"),
    ("tls_hostname", r"hostname mismatch|doesn't match|does not match|IP address mismatch|"
                     r"certificate is not valid for"),
    ("tls_untrusted", r"self[- ]signed certificate|unable to get local issuer certificate|"
                      r"unable to verify the first certificate|certificate verify failed|CERTIFICATE_VERIFY_FAILED|"
                      r"SSLCertVerificationError|ClientConnectorCertificateError"),
    ("tls_not_tls", r"wrong version number|WRONG_VERSION_NUMBER|record layer failure|packet length too long|"
                    r"unknown protocol"),
    ("tls_handshake", r"\[SSL[:\]]|SSLError|SSL: |sslv3 alert|tlsv1 alert|handshake|ssl_error|"
                      r"UNEXPECTED_EOF_WHILE_READING|EOF occurred in violation of protocol|ClientSSLError"),
    ("dns", r"name or service not known|nodename nor servname|temporary failure in name resolution|"
            r"getaddrinfo failed|no address associated with hostname|failed to resolve|NameResolutionError|"
            r"\[Errno -[235]\]|ClientConnectorDNSError|Could not contact DNS servers|DNS lookup failed"),
    ("refused", r"connection refused|\[Errno 111\]|actively refused|ECONNREFUSED|\[WinError 10061\]|connect call failed"),
    ("unreachable", r"no route to host|network is unreachable|host is unreachable|\[Errno 11[03]\]|"
                    r"\[Errno 101\]|EHOSTUNREACH|ENETUNREACH"),
))


#: The telling part of a message: OpenSSL's reason, or the resolver's or the system's words.
_ESSENCE = (
    # OpenSSL's reason, up to its source position or the end of the wrapping exception's quote.
    re.compile(r"\[SSL: [A-Z0-9_]+\].*?(?=\s*\(_ssl\.c|'\)|\"\)|$)"),
    re.compile(r"(?:certificate verify failed|handshake operation timed out).*?(?=\s*\(_ssl\.c|'\)|\"\)|$)"),
    re.compile(r"\[Errno -?\d+\] [^()\]'\"]+"),
    re.compile(r"(?:Name or service not known|Temporary failure in name resolution|No route to host|"
               r"Network is unreachable|Connection refused|Connect call failed)[^\]'\"]*", re.IGNORECASE),
)


def essence(message: str | None, limit: int = 160) -> str | None:
    """The part of an error message that says what happened (``[SSL: ...] certificate verify failed:
    certificate has expired``, ``[Errno -2] Name or service not known``), without the client's wrapping
    (aiohttp's "Cannot connect to host ...", urllib3's "Max retries exceeded ..."); else the message, cut."""
    if not message:
        return None
    for pattern in _ESSENCE:
        found = pattern.search(message)
        if found:
            return found.group(0).strip()[:limit]
    return message.strip()[:limit]


def cause_of(error_type: str | None, message: str | None) -> str | None:
    """The cause an attempt's error names (see the module doc), or None."""
    text = f"{error_type or ''} {message or ''}"
    if not text.strip():
        return None
    for cause, pattern in _RULES:
        if pattern.search(text):
            return cause
    return None
