"""The light request views read like the httpx.Request they stand in for (instrumentation/views.py)."""

from __future__ import annotations

import httpx
import pytest
import requests
from hypothesis import given, settings, strategies as st
from yarl import URL

from batch_debug.collector.secrets import credentials
from batch_debug.instrumentation import views
from batch_debug.instrumentation.wire import header_values

_DEFAULT = {"http": 80, "https": 443}

URLS = [
    "http://127.0.0.1:8096/Items/0f3e/Images/Primary",
    "https://jellyfin.example/Items/abc/Images/Primary?api_key=s3cret&maxWidth=300",
    "http://jellyfin.example/",
    "http://[::1]:8096/System/Info/Public",
    "https://user:pw@jellyfin.example:8920/Users/AuthenticateByName",
    "http://jellyfin.example/Items/a%20b/Images/Primary?ApiKey=x%2By",
]
HEADERS = [("X-Emby-Token", "k3y"), ("User-Agent", "poster-tool/1.0"), ("Authorization", 'MediaBrowser Token="t0k"'),
           ("Accept", "*/*"), ("X-Note", "café")]


def _port(url: httpx.URL) -> int | None:
    return url.port or _DEFAULT.get(url.scheme)


def _same_as_httpx(view: views.RequestView, url: str, encoding: str) -> None:
    real = httpx.Request("GET", url, headers=[(n, v.encode(encoding)) for n, v in HEADERS])
    assert view.method == "GET"
    assert (view.url.scheme, view.url.host, view.url.port or _DEFAULT.get(view.url.scheme), view.url.path,
            view.url.query) == (real.url.scheme, real.url.host, _port(real.url), real.url.path, real.url.query)
    # httpx adds the Host header to a request made by hand; the clients add theirs when they send.
    assert view.headers.raw == [(n, v) for n, v in real.headers.raw if n != b"Host"]
    assert header_values(view.headers) == header_values(real.headers)
    assert credentials(view.headers, view.url.query) == credentials(real.headers, real.url.query)
    assert view.headers.get("x-emby-token") == "k3y"
    assert view.headers.get("missing", "none") == "none"
    assert dict(view.headers.multi_items())["X-Note"] == "café"
    assert view.extensions == {}


@pytest.mark.parametrize("url", URLS)
def test_a_requests_view_reads_like_httpx(url: str) -> None:
    view = views.from_text("GET", url, [(n, v.encode("latin-1")) if n == "X-Note" else (n, v) for n, v in HEADERS])
    assert str(view.url) == url
    _same_as_httpx(view, url, "latin-1")


@pytest.mark.parametrize("url", URLS)
def test_an_aiohttp_view_reads_like_httpx(url: str) -> None:
    target = URL(url, encoded=True)
    view = views.from_yarl("GET", target, HEADERS)
    assert str(view.url) == str(target)
    _same_as_httpx(view, url, "utf-8")


def test_a_port_that_is_no_number_is_refused_so_the_request_goes_untraced() -> None:
    with pytest.raises(ValueError):
        views.from_text("GET", "http://jellyfin.example:http/", [])


# Pieces of a path segment: plain characters and whole UTF-8 escapes. Left out: an invalid escape like
# %80 and dot segments, where the libraries differ (httpx makes "/a/." "/a", requests and yarl "/a/", which
# is what those clients send); Jellyfin's routes carry neither.
_SEGMENT = st.lists(st.sampled_from(["a", "f", "X", "0", "9", "-", "_", "~", "%20", "%C3%A9", "%2F"]),
                    min_size=1, max_size=8).map("".join)


@settings(max_examples=60, deadline=None)
@given(host=st.sampled_from(["127.0.0.1", "jellyfin.example", "[::1]"]),
       port=st.one_of(st.none(), st.integers(1, 65535)), scheme=st.sampled_from(["http", "https"]),
       segments=st.lists(_SEGMENT, max_size=4),
       query=st.one_of(st.none(), st.sampled_from(["api_key=abc", "ApiKey=a%2Bb&x=1", "maxWidth=300"])))
def test_any_url_the_clients_send_gives_httpx_parts(host: str, port: int | None, scheme: str, segments: list[str],
                                                     query: str | None) -> None:
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/{'/'.join(segments)}"
    if query is not None:
        url += "?" + query
    try:
        real = httpx.URL(url)
    except httpx.InvalidURL:
        return
    # Each client's own form of the URL, as it hands it to the view (aiohttp makes a yarl URL of a
    # string the same way); both remove dot segments, as httpx does.
    prepared = requests.Request("GET", url).prepare().url
    for view in (views.from_text("GET", prepared, []), views.from_yarl("GET", URL(url), [])):
        assert (view.url.scheme, view.url.host, view.url.port or _DEFAULT[scheme], view.url.query) == \
            (real.scheme, real.host, _port(real), real.query)
        assert view.url.path == real.path
