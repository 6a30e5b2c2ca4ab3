"""Query parameters of the JSON API, checked with the schemas the OpenAPI document publishes.

Usage::

    @bp.delete("/cleanup")
    @operation("...", params=[query_param("days", "...", {"type": "integer", "minimum": 0,
                                                          "maximum": 36500, "default": 7})])
    def cleanup():
        days = query_args()["days"]     # an int from 0 to 36500; 7 when absent

Contract: every query parameter the route documents (``@operation(params=...)``)
comes back, with its schema's default when absent. A whole number is ASCII
digits only (``int()`` also takes ``'٣'``, ``'+3'``, ``' 3'`` and ``'1_0'``),
at most 12 of them; the number is then checked by ``jsonschema`` against the
parameter's published schema. A wrong value is a 400 whose sentence names the
parameter and what it must be, in the same words as a body's
(``jsonbody.describe_errors``): "days must be a whole number between 0 and
36500, not 99999.". Parameters a route does not document are refused before
the view runs (``api``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from flask import abort, current_app, request
from jsonschema import Draft202012Validator

from .jsonbody import describe_errors, expected
from .openapi import ATTRIBUTE

_DIGITS = re.compile(r"[0-9]{1,12}")


def query_args() -> dict[str, Any]:
    """The current route's documented query parameters, typed and valid (see the module contract)."""
    params = _query_params(request.endpoint or "")
    values: dict[str, Any] = {}
    for name, schema in params.items():
        raw = request.args.get(name)
        if raw is None:
            if "default" in schema:
                values[name] = schema["default"]
            continue
        if schema.get("type") == "integer":
            if not _DIGITS.fullmatch(raw):
                abort(400, f"{name} must be {expected(schema)}.")
            values[name] = int(raw)
        else:
            values[name] = raw
    problems = describe_errors(_validator(request.endpoint or "").iter_errors(values))
    if problems:
        abort(400, " ".join(problems))
    return values


@functools.cache
def _query_params(endpoint: str) -> dict[str, dict[str, Any]]:
    view = current_app.view_functions.get(endpoint)
    meta = getattr(view, ATTRIBUTE, None)
    if meta is None:
        raise RuntimeError(f"{endpoint} has no @operation metadata to read its query parameters from.")
    return {p["name"]: p["schema"] for p in meta["params"] if p.get("in") == "query"}


@functools.cache
def _required(endpoint: str) -> tuple[str, ...]:
    view = current_app.view_functions.get(endpoint)
    return tuple(p["name"] for p in getattr(view, ATTRIBUTE)["params"] if p.get("in") == "query" and p.get("required"))


@functools.cache
def _validator(endpoint: str) -> Draft202012Validator:
    """One object schema per route, its properties the published parameter schemas (built once)."""
    params = _query_params(endpoint)
    schema = {"type": "object", "properties": params, "required": list(_required(endpoint))}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
