"""What a successful answer's body is, from its first bytes: an image, or a page, a document, text, nothing.

Usage::

    kind_of(b"<!DOCTYPE html><html>...", 5120, content_type="text/html")       # "html"
    kind_of(b"\\x89PNG\\r\\n\\x1a\\n...", 48213, content_type="image/png")          # None: an image
    kind_of(b"", 0, complete=True)                                             # "empty"

A poster request answered ``200 OK`` with a captive portal's sign-in page,
a proxy's login form, an error document or no bytes at all counts as a
success by its status, and the poster saved is no image. The bytes say
what it is, whatever the ``Content-Type`` header claims: an image's
signature (JPEG, PNG, GIF, WebP, AVIF/HEIF, TIFF, ICO, BMP, JPEG XL, SVG)
makes it an image; markup that opens an HTML document is ``"html"``; ``{``
or ``[`` is ``"json"``; other markup ``"xml"``; readable text ``"text"``;
a body that was read whole and held nothing is ``"empty"``. Bytes that are
none of these (an image format not listed, a compressed body we cannot
open) are given the benefit of the doubt: ``None``, as for an image.

Pure: no I/O. A body sent with ``Content-Encoding: gzip`` or ``deflate`` is
opened as far as its first bytes allow (``bodytext.decode``).
"""

from __future__ import annotations

from .bodytext import decode

#: Bytes of a body's start kept to tell what it is (an attempt keeps this much of its first chunk).
SNIFF_BYTES = 512
#: What :func:`kind_of` may say (None: an image, or bytes given the benefit of the doubt).
KINDS = ("html", "json", "xml", "text", "empty")

_IMAGE_STARTS = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"GIF87a", b"GIF89a",
    b"II*\x00", b"MM\x00*",  # TIFF
    b"\x00\x00\x01\x00",  # ICO
    b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n",  # JPEG XL (codestream, container)
)
#: ISO base media brands of still images (``ftyp`` at offset 4): AVIF, HEIF/HEIC.
_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1", b"hevc")
_BOM = b"\xef\xbb\xbf"
_SPACE = b" \t\r\n\x0c"
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta", b"<form", b"<div", b"<p>",
                b"<h1", b"<script", b"<style", b"<link")


def kind_of(start: bytes | None, body_bytes: int, *, complete: bool = True, content_type: str | None = None,
            content_encoding: str | None = None) -> str | None:
    """What a 2xx body whose first bytes are ``start`` is (see the module doc); None for an image.

    ``body_bytes``: bytes received in all; ``complete``: the body was read to its end (an empty body
    counts only then: a body never read says nothing).
    """
    if body_bytes == 0:
        return "empty" if complete else None
    if not start:
        return None
    data = decode(start, content_encoding) if content_encoding else start
    if is_image_start(data):
        return None
    text = data.removeprefix(_BOM).lstrip(_SPACE)
    lower = text[:256].lower()
    if lower.startswith(b"<"):
        if lower.startswith(b"<svg") or (lower.startswith((b"<?xml", b"<!--")) and b"<svg" in lower):
            return None  # an SVG image
        html = lower.startswith(_HTML_STARTS) or b"<html" in lower or "html" in (content_type or "").lower()
        return "html" if html else "xml"
    if lower.startswith((b"{", b"[")):
        return "json"
    if _readable(text[:256]):
        return "html" if "html" in (content_type or "").lower() else "text"
    return None


def is_image(body: bytes, content_type: str | None = None, content_encoding: str | None = None) -> bool:
    """Whether a whole body read is an image (or bytes given the benefit of the doubt), by :func:`kind_of`."""
    return kind_of(body[:SNIFF_BYTES], len(body), content_type=content_type, content_encoding=content_encoding) is None


def is_image_start(data: bytes) -> bool:
    """Whether ``data`` (a body's start, not compressed) opens with an image's signature (SVG aside)."""
    return data.startswith(_IMAGE_STARTS) or _is_riff_webp(data) or _is_image_box(data) or _is_bmp(data)


def _is_riff_webp(data: bytes) -> bool:
    return data.startswith(b"RIFF") and data[8:12] == b"WEBP"


def _is_image_box(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _IMAGE_BRANDS


def _is_bmp(data: bytes) -> bool:
    # "BM", then the file size, two reserved zero words: text starting with "BM" has no zero bytes there.
    return data.startswith(b"BM") and len(data) >= 10 and data[6:10] == b"\x00\x00\x00\x00"


def _readable(sample: bytes) -> bool:
    """Mostly printable UTF-8 (or Latin-1) text: no NUL, few control bytes."""
    if not sample or b"\x00" in sample:
        return False
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 13))
    if controls * 10 > len(sample):
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sample's end is still text.
        return exc.start >= len(sample) - 3
    return True
