"""Request bodies of the JSON API: one JSON object, small and shallow, with known fields only.

Usage::

    body = json_object(required=False, allowed=("duration_minutes",))

Contract: every way a body can be wrong is a JSON 4xx, never a 500:

- more than the app's ``MAX_JSON_BYTES`` (default 64 KiB): 413;
- nested deeper than ``MAX_JSON_DEPTH`` (default 16): 400, checked on the raw
  bytes before parsing, so ``[[[[...]]]]`` never reaches the recursive parser
  (whose ``RecursionError`` would be a 500);
- not UTF-8 JSON, or not an object: 400;
- a field not in ``allowed``: 400 (a typo such as ``duration_minute`` must
  not silently mean "the default").

An empty body is ``{}`` unless ``required``.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from flask import abort, current_app, request

DEFAULT_MAX_JSON_BYTES = 64 << 10
DEFAULT_MAX_JSON_DEPTH = 16

# Escapes go first, so strings need no backtracking: every pass is linear in the body's size
# (a string pattern that handles escapes itself takes seconds on 64 KiB of '\\"').
_ESCAPES = re.compile(rb"\\.", re.DOTALL)
_STRINGS = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]+")


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw`` (brackets inside strings do not count)."""
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", _ESCAPES.sub(b"", raw)))
    return max(accumulate(1 if c in b"[{" else -1 for c in brackets), default=0)


def json_object(*, required: bool, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request body as a JSON object with only ``allowed`` fields (see the module contract)."""
    max_bytes = int(current_app.config.get("MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES))
    max_depth = int(current_app.config.get("MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH))
    if request.content_length is not None and request.content_length > max_bytes:
        abort(413, f"The request body may be at most {max_bytes} bytes of JSON.")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        abort(413, f"The request body may be at most {max_bytes} bytes of JSON.")
    if not raw.strip():
        if required:
            abort(400, "Send a JSON object as the request body.")
        return {}
    if nesting_depth(raw) > max_depth:
        abort(400, f"The request body nests arrays or objects more than {max_depth} deep.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        example = f'{{"{allowed[0]}": ...}}' if allowed else "{}"
        abort(400, f"The request body must be a JSON object, e.g. {example}.")
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        hint = f"allowed: {', '.join(allowed)}" if allowed else "this route takes none"
        abort(400, f"Unknown field(s) {', '.join(repr(k[:40]) for k in unknown[:5])}; {hint}.")
    return data
