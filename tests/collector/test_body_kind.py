"""What a 2xx body is, from its first bytes (``collector.body_kind``): images by their signature, pages,
documents, text and nothing, whatever the Content-Type header claims."""

from __future__ import annotations

import gzip
import zlib

import pytest

from batch_debug.collector.body_kind import SNIFF_BYTES, is_image, kind_of
from batch_debug.jellyfin.images import poster_png

IMAGES = {
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(40),
    "png": poster_png(42, "0" * 32),
    "gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(20),
    "webp": b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(30),
    "avif": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + bytes(20),
    "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00" + bytes(20),
    "tiff": b"II*\x00\x08\x00\x00\x00" + bytes(20),
    "ico": b"\x00\x00\x01\x00\x01\x00\x10\x10" + bytes(20),
    "bmp": b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00" + bytes(20),
    "jxl": b"\xff\x0a\xfa\x1f" + bytes(20),
    "svg": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>',
}


@pytest.mark.parametrize("name", list(IMAGES))
def test_an_image_is_an_image_whatever_its_header_says(name: str) -> None:
    body = IMAGES[name]
    for content_type in (f"image/{name}", "application/octet-stream", "text/html", None):
        assert kind_of(body[:SNIFF_BYTES], len(body), content_type=content_type) is None, content_type
    assert is_image(body)


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>",
    b"\xef\xbb\xbf\r\n  <!doctype HTML>\n<html>",
    b"<HTML><BODY>Please log in to the hotel wifi</BODY></HTML>",
    b"<head><meta http-equiv=refresh content=0;url=/login></head>",
    b"<!-- portal v2 -->\n<html lang=en>",
    b"<form method=post action=/login><input name=user></form>",
])
def test_a_page_is_html_even_when_it_claims_to_be_a_jpeg(body: bytes) -> None:
    for content_type in ("text/html", "image/jpeg", None):
        assert kind_of(body, len(body), content_type=content_type) == "html"
    assert not is_image(body, "image/jpeg")


@pytest.mark.parametrize(("body", "kind"), [
    (b'{"error": "Item not found"}', "json"),
    (b'  [{"Id": "x"}]', "json"),
    (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', "xml"),
    (b"<Error><Message>denied</Message></Error>", "xml"),
    (b"Forbidden: this host may not fetch images", "text"),
    ("Pas d'image pour cet élément".encode(), "text"),
])
def test_documents_and_text_are_told_apart(body: bytes, kind: str) -> None:
    assert kind_of(body, len(body), content_type="image/jpeg") == kind


def test_text_declared_as_html_is_a_page() -> None:
    assert kind_of(b"Session expired, sign in again", 30, content_type="text/html; charset=utf-8") == "html"


def test_an_empty_body_counts_only_when_it_was_read_to_its_end() -> None:
    assert kind_of(b"", 0, complete=True) == "empty"
    assert kind_of(None, 0, complete=True) == "empty"
    assert kind_of(None, 0, complete=False) is None  # never read: nothing is known
    assert not is_image(b"")


def test_unknown_bytes_and_words_that_start_like_a_signature_are_judged_fairly() -> None:
    noise = bytes(range(256)) * 2
    assert kind_of(noise[:SNIFF_BYTES], 5000, content_type="image/jp2") is None  # a format not listed: no claim
    assert kind_of(b"BMW service page: closed", 24) == "text"  # "BM" alone is no bitmap
    assert kind_of(b"\x00\x00\x00\x18ftypisom" + bytes(8), 5000) is None  # a video box: binary, no claim
    assert kind_of(b"", 5000) is None  # the start was not seen (a client that hides it): no claim


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_page_is_opened_as_far_as_its_first_bytes_go(encoding: str) -> None:
    page = b"<!DOCTYPE html><html><title>Sign in</title>" + b"<p>padding</p>" * 500
    packed = gzip.compress(page) if encoding == "gzip" else zlib.compress(page)
    assert kind_of(packed[:SNIFF_BYTES], len(packed), content_type="text/html", content_encoding=encoding) == "html"
    png = IMAGES["png"]
    packed_png = gzip.compress(png) if encoding == "gzip" else zlib.compress(png)
    assert kind_of(packed_png[:SNIFF_BYTES], len(packed_png), content_encoding=encoding) is None
