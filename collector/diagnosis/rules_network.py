"""Rules about why no connection was made, when the error says so: TLS, a name not resolved, no route.

"Could not connect" has many causes a sceptical admin tells apart at once
from the error's words (``JobView.network_cause``, ``collector.net_errors``):
the server's certificate is not trusted, has expired or is for another
name; the URL says ``https`` for a port that speaks plain HTTP; the host
name does not resolve; there is no route to the address. Each gets its
finding, with the error's own words quoted, and the availability and
transport rules leave those attempts alone (``JobView.explained_elsewhere``):
a certificate problem is not "nothing accepted connections".

Evidence keys (besides the common ones): ``error_types`` (type -> attempts),
``errors_said`` (the most frequent error messages, at most 3, as recorded:
redacted) and ``errors_said_attempts`` (how many attempts gave each),
``recovered_items``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from .. import attempts as R
from . import Finding, rule
from .quotes import errors_said
from .text import examples, plural
from .view import JobView, Record

#: cause -> (finding id, what happened, what to do).
_SAID: dict[str, tuple[str, str, str]] = {
    "tls_untrusted": (
        "tls_certificate_untrusted",
        "the client does not trust the server's certificate: it is self-signed, or issued by a private CA "
        "(or sent without its intermediate) that the job's host does not know",
        "Give the job the CA that issued the certificate (httpx: verify=\"/path/ca.pem\" or SSL_CERT_FILE; "
        "requests: REQUESTS_CA_BUNDLE; aiohttp: an ssl.SSLContext with that CA), or serve a certificate from a "
        "public CA (a reverse proxy with Let's Encrypt); turning verification off would hide an interception "
        "too."),
    "tls_expired": (
        "tls_certificate_expired",
        "the server's certificate has expired (or is not valid yet: check the clocks)",
        "Renew the certificate on the server or on the reverse proxy in front of it (an automatic renewal that "
        "stopped is the usual cause) and reload it."),
    "tls_hostname": (
        "tls_hostname_mismatch",
        "the server's certificate is for another name than the one in the job's URL",
        "Use the name the certificate was issued for in the server URL (not an IP address or another alias), "
        "or add this name to the certificate."),
    "tls_not_tls": (
        "tls_not_spoken",
        "the URL says https, but that port does not speak TLS (plain HTTP answered the handshake)",
        "Use http:// for this port, or the port where Jellyfin (or its proxy) serves TLS (8920 is Jellyfin's "
        "default, 443 behind a proxy)."),
    "tls_handshake": (
        "tls_handshake_failed",
        "the TLS handshake failed",
        "Compare what the server accepts with what the client offers (openssl s_client -connect HOST:PORT "
        "from the job's host), and look at the TLS settings of any proxy in front of Jellyfin."),
    "dns": (
        "name_not_resolved",
        "the server's host name could not be resolved: the name is wrong, or the job's host gets no DNS answer "
        "for it",
        "Check the host name in the server URL and resolve it from the job's host (getent hosts NAME); in a "
        "container, use a name its network knows (a service name, or the host's address)."),
    "unreachable": (
        "network_unreachable",
        "there is no route to the server's address: the network is down, a firewall rejects it, or it is only "
        "reachable through a VPN",
        "Check that the job's host reaches the server's address (ping, traceroute), and its firewall, VPN and "
        "network settings."),
}


@rule(*((finding_id, f"attempts got no connection: {what.split(':')[0]}") for finding_id, what, _ in _SAID.values()))
def named_network_causes(view: JobView) -> Iterator[Finding]:
    groups: dict[str, list[Record]] = {}
    for record in view.failed:
        cause = view.network_cause(record)
        if cause in _SAID:
            groups.setdefault(cause, []).append(record)
    for cause, (finding_id, what, action) in _SAID.items():
        records = groups.get(cause)
        if not records:
            continue
        n = len(records)
        ids = view.item_ids(records)
        texts, times = errors_said(records)
        recovered = view.recovered(ids)
        quoted = f" (\u201c{texts[0]}\u201d)" if texts else ""
        whose = f" ({plural(len(ids), 'item')}: {examples(ids)})" if ids else ""
        later = (f"; {len(recovered)} of the {plural(len(ids), 'item')} succeeded on a later attempt"
                 if recovered else "")
        evidence: dict[str, Any] = view.evidence(
            records, error_types=dict(Counter(str(t) for t in R.column(records, "error_type"))),
            errors_said=texts, errors_said_attempts=times, recovered_items=len(recovered))
        yield Finding(
            finding_id,
            f"{plural(n, 'attempt')}{whose} got no connection{quoted}: {what}{later}.",
            action,
            "high" if texts else "medium",
            evidence,
        )
