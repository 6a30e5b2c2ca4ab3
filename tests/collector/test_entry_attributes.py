"""What a request span's ``requests`` entry gives back (``entry_attributes``): read from the entry and its URL,
and a span slimmed only where putting them back gives the very attributes.

The round trip through the writer and ``span_records.with_records`` is in ``test_span_records``.
"""

from __future__ import annotations

import pytest

from batch_debug.collector import attributes as A, entry_attributes
from batch_debug.collector.entry_attributes import given_back, slim
from support import request_span_attributes


@pytest.mark.parametrize("entry,expected", [
    ({"method": "GET", "url": "https://[::1]/Items/a/Images/Backdrop/2", "status_code": 404, "error_type": None,
      "attempt": 3},
     {A.HTTP_METHOD_NEW: "GET", A.HTTP_URL_NEW: "https://[::1]/Items/a/Images/Backdrop/2", A.SERVER_ADDRESS: "::1",
      A.SERVER_PORT: 443, A.URL_TEMPLATE: "/Items/{itemId}/Images/Backdrop/{imageIndex}", A.RESEND_COUNT: 2,
      A.HTTP_STATUS_NEW: 404, A.ERROR_TYPE: "404"}),
    ({"method": "HEAD", "url": "ftp://host/x", "status_code": None, "error_type": "ConnectError",
      "http_version": "h2"},  # no port known for the scheme, no route, a version without "HTTP/"
     {A.HTTP_METHOD_NEW: "HEAD", A.HTTP_URL_NEW: "ftp://host/x", A.SERVER_ADDRESS: "host",
      A.ERROR_TYPE: "ConnectError", A.PROTOCOL_VERSION: "h2"}),
    ({"method": "GET", "url": "http://host:notaport/x", "status_code": 200, "http_version": "HTTP/1.1",
      "body_bytes": 0, "attempt": 1},  # a URL urlsplit refuses: only what the entry itself says
     {A.HTTP_METHOD_NEW: "GET", A.HTTP_URL_NEW: "http://host:notaport/x", A.HTTP_STATUS_NEW: 200,
      A.PROTOCOL_VERSION: "1.1", A.BODY_SIZE: 0}),
    ({"method": "", "url": None, "status_code": True, "body_bytes": 1.5, "attempt": "2"}, {}),  # wrong types: nothing
])
def test_what_an_entry_gives_back(entry, expected) -> None:
    assert given_back(entry) == expected


@pytest.mark.parametrize("key", [A.RESEND_COUNT, A.BODY_SIZE])
def test_a_bool_is_not_the_int_it_equals(key) -> None:
    entry = {"method": "GET", "url": "http://h/x", "attempt": 2, "status_code": 200, "body_bytes": 1}
    attributes = request_span_attributes(entry, None)
    assert slim(attributes, entry)
    attributes[key] = True  # == 1, but encoded as a bool: putting the int back would change the span
    assert not slim(attributes, entry)
    assert not entry_attributes._slim_by_merging(attributes, given_back(entry))


def test_a_long_url_is_read_the_same_and_not_kept() -> None:
    long = "http://h:81/Items/abc/Images/Primary?tag=" + "x" * 3000
    before = entry_attributes._from_short_url.cache_info().currsize
    found = given_back({"method": "GET", "url": long})
    assert found[A.SERVER_ADDRESS] == "h" and found[A.SERVER_PORT] == 81
    assert found[A.URL_TEMPLATE] == "/Items/{itemId}/Images/Primary"
    assert entry_attributes._from_short_url.cache_info().currsize == before  # a span from elsewhere may carry MBs
    given_back({"method": "GET", "url": "http://h:81/Items/abd/Images/Primary"})
    assert entry_attributes._from_short_url.cache_info().currsize <= 64
