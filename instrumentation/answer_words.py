"""What an attempt's answer said in words, read when the attempt ends: an error body, a login's token, a 2xx
body that is not what its route serves.

``exchange.Attempt.finish`` calls one of these with the attempt:

- :func:`read_capture`: the start of an error body (status >= 400), made
  readable and redacted (``error_body``, ``error_body_bytes``,
  ``error_body_truncated``); or a login's answer, whose ``AccessToken`` is
  learned as a secret before anything records it;
- :func:`tell_body`: for a 2xx GET, what its body is, from its first bytes
  (``collector.body_kind``), when it is not what its route serves (a page
  where a poster was asked for; a page anywhere): ``body_kind``,
  ``content_type`` and its redacted words (``body_text``). A body that
  opens with an image's signature is told at once: nearly every answer here.

:func:`textual` says which content types are kept whole as they are read
(as an error body is), for their words.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from ..collector import attributes as A, bodytext
from ..collector.body_kind import is_image_start, kind_of
from ..collector.redact import redact_text

if TYPE_CHECKING:
    from .exchange import Attempt

#: Most characters of a 2xx body's words kept (``body_text``): enough for a sign-in page's title and prompt.
BODY_TEXT_CHARS = 500


def textual(content_type: bytes | None) -> bool:
    """A content type whose body a person could read (a page, a document, text)."""
    if content_type is None:
        return False
    kind = content_type.lower()
    return kind.startswith(b"text/") or b"json" in kind or b"xml" in kind and not kind.startswith(b"image/")


def tell_body(attempt: Attempt) -> None:
    """Note what a 2xx GET's body is when it is not what its route serves (see the module doc)."""
    wanted = attempt.sniffed or {}
    first = attempt.first
    if first and b"content-encoding" not in wanted and is_image_start(first):
        return  # a poster, as nearly every answer here: its signature said so
    content_type = _text(wanted.get(b"content-type"))
    encoding = _text(wanted.get(b"content-encoding"))
    kind = kind_of(first, attempt.body_bytes, complete=attempt.body_done, content_type=content_type,
                   content_encoding=encoding)
    if kind is None or (kind != "html" and "/Images/" not in str(attempt.attrs.get(A.URL_TEMPLATE, ""))):
        return
    extras = attempt.extras
    extras["body_kind"] = kind
    extras["content_type"] = content_type
    raw = b"".join(attempt.capture)[: bodytext.CAPTURE_LIMIT] if attempt.capture else first or b""
    if raw:
        text, _ = bodytext.readable(raw, content_type, complete=attempt.body_done and attempt.body_bytes <= len(raw),
                                    content_encoding=encoding)
        extras["body_text"] = redact_text(text[:BODY_TEXT_CHARS], attempt.job.secrets.values())


def read_capture(attempt: Attempt) -> None:
    """An error body's words, or a login answer's token (see the module doc)."""
    raw = b"".join(attempt.capture or ())[: bodytext.CAPTURE_LIMIT]
    response = attempt.response
    headers = response.headers if response is not None else httpx.Headers()
    status = response.status_code if response is not None else 0
    if status >= 400:
        text, truncated = bodytext.readable(
            raw, headers.get("content-type"), complete=attempt.body_done and attempt.body_bytes <= len(raw),
            content_encoding=headers.get("content-encoding"))
        attempt.extras["error_body"] = redact_text(text, attempt.job.secrets.values())
        attempt.extras["error_body_bytes"] = attempt.body_bytes
        if truncated:
            attempt.extras["error_body_truncated"] = True
    else:
        _learn_access_token(attempt, bodytext.decode(raw, headers.get("content-encoding")))


def _learn_access_token(attempt: Attempt, raw: bytes) -> None:
    try:
        data = json.loads(raw)
    except ValueError:
        return
    if isinstance(data, dict) and isinstance(data.get("AccessToken"), str):
        attempt.job.secrets.learn(data["AccessToken"])


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
