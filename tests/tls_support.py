"""Certificates made with the ``openssl`` command for a test run, and a poster server speaking HTTPS with them.

Usage (``from tls_support import Certificates, https_server``)::

    certs = Certificates.make(tmp_path)          # a private CA and three leaf certificates it signed
    certs = Certificates.shared(folder)          # the same, made once in ``folder`` for every process
    with https_server(certs.valid) as url:       # https://127.0.0.1:PORT, a poster per /Items/{id}/Images/Primary
        ...

The leaves: ``valid`` (for 127.0.0.1), ``expired`` (for 127.0.0.1, valid
for no time at all: expired a second after it is made) and ``other_name``
(for ``jellyfin.local`` only). ``certs.ca`` is the CA's certificate, the one
a client is given to trust them; without it the client trusts none of them.
"""

from __future__ import annotations

import fcntl
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(1500)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Leaf:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    valid: Leaf
    expired: Leaf
    other_name: Leaf

    @classmethod
    def shared(cls, folder: Path) -> Certificates:
        """The certificates in ``folder``, made there by the first caller (a file lock: xdist workers)."""
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder.parent / f"{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = folder / "done"
            if not done.exists():
                cls.make(folder)
                done.write_text("made\n")
        return cls(folder / "ca.crt", Leaf(folder / "valid.crt", folder / "valid.key"),
                   Leaf(folder / "expired.crt", folder / "expired.key"), Leaf(folder / "other.crt", folder / "other.key"))

    @classmethod
    def make(cls, folder: Path) -> Certificates:
        folder.mkdir(parents=True, exist_ok=True)
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                 "-days", "3650", "-subj", "/CN=batch-debug test CA", cwd=folder)

        def leaf(name: str, subject: str, alt: str, days: int) -> Leaf:
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                     "-subj", f"/CN={subject}", cwd=folder)
            (folder / f"{name}.ext").write_text(f"subjectAltName={alt}\n")
            _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", f"{name}.crt", "-days", str(days), "-extfile", f"{name}.ext", cwd=folder)
            return Leaf(folder / f"{name}.crt", folder / f"{name}.key")

        expired = leaf("expired", "127.0.0.1", "IP:127.0.0.1", 0)
        made_at = time.monotonic()
        made = cls(folder / "ca.crt", leaf("valid", "127.0.0.1", "IP:127.0.0.1", 3650), expired,
                   leaf("other", "jellyfin.local", "DNS:jellyfin.local", 3650))
        # "-days 0" ends its validity the second it starts: wait until that second is over.
        time.sleep(max(0.0, 1.1 - (time.monotonic() - made_at)))
        return made


class _Posters(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "Kestrel"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = JPEG if "/Images/" in self.path else b'{"Id": "x"}'
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg" if "/Images/" in self.path else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TLSServer(ThreadingHTTPServer):
    """Each connection's handshake in its own thread (a failed one must not stop the server)."""

    context: ssl.SSLContext

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate: what the test is about
        super().finish_request(request, client_address)


@contextmanager
def https_server(leaf: Leaf) -> Iterator[str]:
    """A poster server on 127.0.0.1 speaking HTTPS with ``leaf``; its base URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(leaf.cert, leaf.key)
    server = _TLSServer(("127.0.0.1", 0), _Posters)
    server.context = context
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)  # a quick shutdown
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
