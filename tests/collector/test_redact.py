"""Redaction of every credential form Jellyfin accepts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from batch_debug.collector.redact import (REDACTED, SECRET_QUERY_PARAMS, redact_headers, redact_text, redact_tree,
                                         redact_url)

KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("url", [
    f"http://h/Items/1?ApiKey={KEY}",
    f"http://h/Items/1?api_key={KEY}&x=1",
    f"http://h/Items/1?x=1&API_KEY={KEY}",
    f"http://h/Items/1?apikey={KEY}#frag",
    f"http://user:{KEY}@h/Items/1",
])
def test_redact_url_removes_the_key(url: str) -> None:
    out = redact_url(url)
    assert KEY not in out and REDACTED in out
    assert out.startswith("http://")


@pytest.mark.parametrize("name,value", [
    ("Authorization", f'MediaBrowser Client="app", Device="d", Token="{KEY}"'),
    ("authorization", f'Emby Token="{KEY}", Client="app"'),
    ("X-Emby-Authorization", f'MediaBrowser Token="{KEY}"'),
    ("X-Emby-Token", KEY),
    ("x-mediabrowser-token", KEY),
    ("Authorization", f"Bearer {KEY}"),
    ("Authorization", KEY),
])
def test_redact_headers_removes_the_key_and_keeps_other_fields(name: str, value: str) -> None:
    out = redact_headers({name: value, "Accept": "image/*"})
    assert KEY not in json.dumps(out)
    assert out["accept"] == "image/*"
    if "Client=" in value:
        assert 'Client="app"' in out[name.lower()]


def test_redact_text_handles_json_escaped_token_and_access_token() -> None:
    text = json.dumps({"h": f'MediaBrowser Token="{KEY}"', "AccessToken": KEY})
    out = redact_text(text)
    assert KEY not in out
    assert json.loads(out)["h"] == f'MediaBrowser Token="{REDACTED}"'


def test_redact_text_removes_literal_secrets() -> None:
    assert redact_text(f"connect failed for {KEY}", [KEY]) == f"connect failed for {REDACTED}"


def test_redact_tree_walks_nested_values() -> None:
    tree = {"a": [f"?api_key={KEY}", {"b": f'Token="{KEY}"'}], "n": 3}
    out = redact_tree(tree)
    assert KEY not in json.dumps(out)
    assert out["n"] == 3


@pytest.mark.parametrize("secret,literal", [
    (KEY, True), ("k", False), ("test", False), ("00000000", False), ("1e100000", False),
    ('abc"defgh', False), ("sim-api-key", True), ("demo-api-key", True),
])
def test_only_safe_literal_secrets_are_scrubbed(secret: str, literal: bool) -> None:
    from batch_debug.collector.redact import is_literal_secret

    assert is_literal_secret(secret) is literal


def test_scrubbing_json_text_keeps_it_valid() -> None:
    from batch_debug.collector.spool import _scrub

    text = json.dumps({"ok": True, "n": 1700000000000, "k": None, "url": f"http://h/?x={KEY}"})
    out = _scrub(text, ["k", "true", "00000", "e", KEY])
    assert json.loads(out) == {"ok": True, "n": 1700000000000, "k": None, "url": "http://h/?x=[REDACTED]"}


def _patterns_only(text: str) -> str:
    from batch_debug.collector import redact as R

    text = R._TOKEN_FIELD.sub(R._quoted, text)
    text = R._TOKEN_FIELD_BARE.sub(lambda m: m.group(1) + R.REDACTED, text)
    text = R._QUERY_SECRET.sub(lambda m: m.group(1) + R.REDACTED, text)
    text = R._JSON_SECRET.sub(lambda m: m.group(1) + '"' + R.REDACTED + '"', text)
    text = R._HEADER_LINE.sub(lambda m: m.group(1) + R.REDACTED, text)
    return R._BEARER.sub(lambda m: m.group(1) + R.REDACTED, text)


_PIECES = st.sampled_from(['Token="', "token=", "ApiKey=", "?api_key=", "&ApiKey=", '"AccessToken": "', "Bearer ",
                           "X-Emby-Token: ", "x-mediabrowser-token=", "TOKEN", "K", "\u212a", "e", '"', " ", ",",
                           "abc123XYZ", "=", ":", "&", "?"])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=12).map("".join))
def test_the_quick_look_skips_only_texts_no_pattern_would_change(text: str) -> None:
    assert redact_text(text) == _patterns_only(text)


@pytest.mark.parametrize("name", sorted(SECRET_QUERY_PARAMS))
def test_every_secret_query_parameter_is_redacted(name: str) -> None:
    """The query pattern is built from the set: a name added there is redacted everywhere at once."""
    assert redact_url(f"http://h/x?a=1&{name.upper()}={KEY}") == f"http://h/x?a=1&{name.upper()}={REDACTED}"
    assert redact_url(f"http://h/x?{name}x={KEY}") == f"http://h/x?{name}x={KEY}"  # only the exact name


def test_redact_tree_copies_only_what_changed_and_redacts_keys_too() -> None:
    clean_part = {"items": [{"item_id": "a", "n": 1}], "t": (1, 2.5, None, True)}
    tree = {"clean": clean_part, "dirty": [{"e": f"Token=\"{KEY}\""}, "plain"], f"by {KEY}": 1}
    out = redact_tree(tree, [KEY])
    assert out["clean"] is clean_part  # nothing in it changed: not copied
    assert out["dirty"] == [{"e": f'Token="{REDACTED}"'}, "plain"] and out["dirty"] is not tree["dirty"]
    assert list(out) == ["clean", "dirty", f"by {REDACTED}"]  # key order kept, the key itself redacted
    assert tree["dirty"][0]["e"] == f'Token="{KEY}"'  # the input is never changed


json_trees = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.sampled_from(["plain", KEY, f"?api_key={KEY}", f'Token="{KEY}"', "x" + KEY + "y"]), st.text(max_size=5)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(["a", "b", KEY, f"k{KEY}"]), children, max_size=4)),
    max_leaves=20)


def _naive(value, secrets):
    # The definition: every string, keys included, through redact_text; a new container everywhere.
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {_naive(k, secrets): _naive(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_naive(v, secrets) for v in value]
    return value


@settings(max_examples=200, deadline=None, derandomize=True)
@given(json_trees)
def test_redact_tree_equals_redacting_every_string(tree) -> None:
    out = redact_tree(tree, [KEY])
    assert json.dumps(out) == json.dumps(_naive(tree, [KEY]))
    assert KEY not in json.dumps(out)


@pytest.mark.parametrize("text", [
    "Session for api_key=Lm4nB8vC2xZq6Wd1 expired",
    "sign in again (ApiKey=Lm4nB8vC2xZq6Wd1)",
    "token=Lm4nB8vC2xZq6Wd1; path=/",
    "<a href=\"/login?next=/Items&amp;api_key=Lm4nB8vC2xZq6Wd1\">",
])
def test_a_key_echoed_as_a_word_of_free_text_is_redacted(text: str) -> None:
    """A page or a message that echoes ``api_key=...`` back outside any URL (a portal, a log line)."""
    redacted = redact_text(text)
    assert "Lm4nB8vC2xZq6Wd1" not in redacted and REDACTED in redacted


def test_a_longer_name_ending_in_a_key_name_and_an_empty_value_are_left_alone() -> None:
    for text in ("my_api_key=visible-on-purpose", "api_key= nothing", "apikeys=3"):
        assert redact_text(text) == text
    assert redact_text('Token="abc"') == f'Token="{REDACTED}"'  # the Token field keeps its quotes
