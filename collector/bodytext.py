"""What a person needs from an error body: its text, not its markup.

Usage::

    text, truncated = readable(raw_bytes, "text/html; charset=utf-8", complete=True)
    gist(text)     # its message in one line: a problem document's detail, a trace's message lines

A reverse proxy's error page is mostly CSS and scripts; cutting its first
2 KB keeps the styles and loses the message. :func:`readable` keeps, for
HTML, the ``<title>`` and the visible text (no ``<style>``, ``<script>``,
``<head>`` clutter or tags), with whitespace collapsed; for anything else
the decoded text. At most ``TEXT_LIMIT`` characters come back; ``truncated``
says whether anything was left out (of the text, or of a body not read to
its end). Pure: no I/O. The caller redacts.
"""

from __future__ import annotations

import json
import re
import zlib
from html.parser import HTMLParser

#: Most characters of extracted text kept per error body.
TEXT_LIMIT = 2048
#: Most bytes of a body read for the extraction (a page's message may sit after 30 KB of CSS).
CAPTURE_LIMIT = 64 * 1024

_SPACE = re.compile(r"\s+")
_SKIP = frozenset({"style", "script", "noscript", "template", "svg", "head"})
_BLOCK = frozenset({"p", "div", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "center", "pre",
                    "title", "section", "article", "header", "footer", "table"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.parts: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP:
            self._skip += 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP and self._skip:
            self._skip -= 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def _lines(text: str) -> str:
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def html_text(markup: str) -> tuple[str, str]:
    """(title, visible text) of an HTML document or fragment; tolerant of broken markup."""
    parser = _Text()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser is lenient, but a page is untrusted input
        pass
    title = _SPACE.sub(" ", "".join(parser.title)).strip()
    body = _lines("".join(parser.parts))
    return title, body


def decode(raw: bytes, content_encoding: str | None) -> bytes:
    """``raw`` without a gzip/deflate ``Content-Encoding`` (as much as decodes), capped."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ("gzip", "deflate", "x-gzip"):
        return raw
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    try:
        return zlib.decompressobj(wbits).decompress(raw, CAPTURE_LIMIT)
    except zlib.error:
        return raw


def is_html(content_type: str | None, text: str) -> bool:
    if content_type and "html" in content_type.lower():
        return True
    head = text.lstrip()[:100].lower()
    return head.startswith(("<!doctype html", "<html"))


def readable(raw: bytes, content_type: str | None, *, complete: bool = True,
             content_encoding: str | None = None) -> tuple[str, bool]:
    """(at most ``TEXT_LIMIT`` characters a person can read, whether anything was left out).

    ``complete`` is False when ``raw`` is only the start of the body.
    """
    text = decode(raw, content_encoding).decode("utf-8", errors="replace")
    if is_html(content_type, text):
        title, body = html_text(text)
        if title and not body.startswith(title):
            body = f"{title}\n{body}" if body else title
        text = body
    else:
        text = text.strip()
    truncated = not complete or len(text) > TEXT_LIMIT
    return text[:TEXT_LIMIT], truncated


def title_of(text: str | None) -> str | None:
    """A short signature of an extracted error text (or its :func:`gist`): its first line, at most 80 characters."""
    if not text:
        return None
    return text.split("\n", 1)[0].split(" / ", 1)[0][:80] or None


#: Lines of a stack trace that are frames, not messages (.NET, Java, Python); ``--->`` (an inner
#: exception's message) is kept.
_FRAME = re.compile(r"^(?:at \S+?[(\s]|File \"|---(?!>)|\.\.\. \d+ more)")
_MARKUP = re.compile(r"<(?:title|h1|body|head)\b", re.I)
_TRACEBACK = "Traceback (most recent call last)"
_MESSAGE_KEYS = ("detail", "message", "Message", "error_description", "error")


def _problem_message(data: dict[str, object]) -> str | None:
    """A JSON error document's message: RFC 7807 ``detail`` (else ``message``, ``error``...), else
    its ``title`` with its validation ``errors`` (ASP.NET Core's ValidationProblemDetails)."""
    for key in _MESSAGE_KEYS:
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("detail")
        if isinstance(value, str) and value.strip():
            return value
    title = data.get("title")
    errors = data.get("errors")
    said = []
    if isinstance(errors, dict):
        for name, texts in errors.items():
            joined = " ".join(str(t) for t in texts) if isinstance(texts, list) else str(texts)
            said.append(f"{name}: {joined}" if name else joined)
    if isinstance(title, str) and title.strip():
        return " — ".join([title, "; ".join(said)]) if said else title
    return "; ".join(said) or None


def _message_lines(text: str) -> list[str]:
    """The lines of a plain error text that carry its message: stack frames, repeated lines (a page's
    title again as its heading) and empty labels ("Request time:") left out; of a Python traceback
    only its last line (the exception)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if lines and lines[0].startswith(_TRACEBACK):
        return lines[-1:]
    seen: set[str] = set()
    kept = []
    for line in lines:
        if _FRAME.match(line) or line.lower() in seen or (line.endswith(":") and len(lines) > 1):
            continue
        seen.add(line.lower())
        kept.append(line)
    return kept or lines[:1]


def gist(text: str | None, limit: int = 200) -> str | None:
    """The message of an error text in one line of at most ``limit`` characters ("…" when cut).

    A JSON problem document gives its ``detail`` (else its title and
    validation errors, or a ``message``/``error`` field); HTML markup its
    title and visible text; plain text its message lines (stack frames left
    out), joined with " / ". Idempotent: the gist of a gist is itself, so
    texts already reduced (the spool keeps only gists) come through unchanged.
    """
    if not text:
        return None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict):
            found = _problem_message(data)
            if found:
                stripped = found.strip()
    elif is_html(None, stripped) or _MARKUP.match(stripped):
        title, body = html_text(stripped)
        stripped = body if not title or body.startswith(title) else f"{title}\n{body}" if body else title
    line = _SPACE.sub(" ", " / ".join(_message_lines(stripped))).strip()
    if len(line) > limit:
        line = line[:limit - 1].rstrip() + "\u2026"
    return line or None
