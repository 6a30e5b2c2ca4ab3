"""Route templates: what an attempt asked for, whatever the item, the base path or the query."""

from __future__ import annotations

import pytest

from hypothesis import given, settings, strategies as st

from batch_debug.collector.routes import needs_auth, route_of, url_template

GUID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("url, route, auth", [
    (f"http://jf:8096/Items/{GUID}/Images/Primary?ApiKey=x", "/Items/{itemId}/Images/{imageType}", False),
    (f"http://jf/jellyfin/Items/{GUID}/Images/Backdrop/0", "/Items/{itemId}/Images/{imageType}", False),
    (f"http://jf/Items/{GUID}", "/Items/{itemId}", True),
    ("http://jf/jellyfin/Items/not-a-guid/", "/Items/{itemId}", True),
    (f"http://jf/Users/{GUID}/Items/{GUID}", "/Users/{userId}/Items/{itemId}", True),
    (f"http://jf/Users/{GUID}/Items?StartIndex=0", "/Users/{userId}/Items", True),
    ("http://jf/System/Info/Public", "/System/Info/Public", False),
    ("http://jf/users/authenticatebyname", "/Users/AuthenticateByName", False),
    ("/System/Info", "/System/Info", True),
    (f"http://jf/cdn/posters/{GUID}", "/cdn/posters/{id}", None),
    ("http://jf/plugins/42/config", "/plugins/{id}/config", None),
])
def test_route_templates_and_whether_they_need_a_key(url: str, route: str, auth: bool | None) -> None:
    assert route_of(url) == route
    assert needs_auth(route) is auth


_SEGMENTS = st.sampled_from(["Items", "items", "Images", "Primary", "Backdrop", "Users", "System", "Info", "Public",
                             "jellyfin", "abc", GUID, "5", ""])


@settings(max_examples=400, deadline=None)
@given(st.lists(_SEGMENTS, min_size=1, max_size=7), st.booleans())
def test_a_url_template_has_the_route_of_its_path(parts: list[str], slash: bool) -> None:
    """records reads a span's route from its url.template (a few cached strings) instead of its URL."""
    path = "/" + "/".join(parts) + ("/" if slash else "")
    template = url_template(path)
    if template is not None:
        assert route_of(template) == route_of(path)
