"""Request bodies of the JSON API: one small, shallow JSON object, valid against its published schema.

Usage::

    @bp.post("/enable")
    @operation("Switch debug on", body="EnableRequest")
    def enable():
        body = json_body()      # valid against components/schemas/EnableRequest

Contract: the body is checked with the very schema the OpenAPI document
publishes for the route (``@operation(body=..., body_required=...)``, see
``openapi.body_of``), by ``jsonschema`` (Draft 2020-12, the dialect of OpenAPI
3.1; one validator per schema, built once). Every way a body can be wrong is
a JSON 4xx with sentences a person can act on, never a 500:

- more than the app's ``MAX_JSON_BYTES`` (default 64 KiB): 413, before parsing;
- nested deeper than ``MAX_JSON_DEPTH`` (default 16): 400, checked on the raw
  bytes before parsing, so ``[[[[...]]]]`` never reaches the recursive parser
  (whose ``RecursionError`` would be a 500);
- not JSON (``NaN`` and ``Infinity`` included), or not an object: 400;
- a field the schema does not list: 400 naming it (a typo such as
  ``duration_minute`` must not silently mean "the default");
- a field missing, of the wrong type, out of range or not matching: 400 naming
  the field and what it must be ("duration_minutes must be a whole number
  between 1 and 1440, not 0."). Strings the client sent are not echoed (one
  may be a key).

An empty body is ``{}`` unless the route's body is required.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any

from flask import abort, current_app, request
from jsonschema import Draft202012Validator, ValidationError

from .openapi import COMPONENTS, body_of

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


@functools.cache
def validator(schema_name: str) -> Draft202012Validator:
    """The validator of ``#/components/schemas/<schema_name>`` of the published document (built once)."""
    if schema_name not in COMPONENTS["schemas"]:
        raise ValueError(f"No schema {schema_name!r} in the OpenAPI components: name one of schemas.SCHEMAS.")
    Draft202012Validator.check_schema(COMPONENTS["schemas"][schema_name])
    # Its refs are document-absolute (#/components/...): the components ride along, ignored as a keyword.
    return Draft202012Validator({"$ref": f"#/components/schemas/{schema_name}", "components": COMPONENTS})


def json_body() -> dict[str, Any]:
    """The request body of the current route, valid against its schema (see the module contract)."""
    spec = body_of(current_app.view_functions.get(request.endpoint or ""))
    if spec is None:
        raise RuntimeError(f"{request.endpoint} declares no JSON body (@operation(body=...)) to validate.")
    schema_name, required = spec
    data = _read_object(required, _example(COMPONENTS["schemas"][schema_name]))
    problems = describe_errors(validator(schema_name).iter_errors(data))
    if problems:
        abort(400, " ".join(problems))
    return data


def _read_object(required: bool, example: str) -> Any:
    max_bytes = int(current_app.config.get("MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES))
    max_depth = int(current_app.config.get("MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH))
    if request.content_length is not None and request.content_length > max_bytes:
        abort(413, f"The request body may be at most {max_bytes} bytes of JSON.")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        abort(413, f"The request body may be at most {max_bytes} bytes of JSON.")
    if not raw.strip():
        if required:
            abort(400, f"Send a JSON object as the request body, e.g. {example}.")
        return {}
    if nesting_depth(raw) > max_depth:
        abort(400, f"The request body nests arrays or objects more than {max_depth} deep.")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        abort(400, f"The request body is not valid JSON: send a JSON object, e.g. {example}.")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json takes NaN and Infinity; JSON has no such numbers


def _example(schema: dict[str, Any]) -> str:
    names = list(schema.get("properties", {}))
    return f'{{"{names[0]}": ...}}' if names else "{}"


# --- jsonschema's errors as sentences --------------------------------------------------------------------------

_KINDS = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "array": "an array", "object": "a JSON object", "null": "null"}
# Keywords whose failure says the value itself is wrong: the sentence shows it (a string only by kind: it may be
# a key).
_SHOW_VALUE = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
# Unknown fields first (usually a typo that explains the rest), then missing ones, then each field's value.
_ORDER = {"additionalProperties": 0, "required": 1, "dependentRequired": 1}


def describe_errors(errors: Iterable[ValidationError]) -> list[str]:
    """One plain sentence per problem (no Python reprs), unknown and missing fields first, no repeats."""
    found: list[str] = []
    ordered = sorted(errors, key=lambda e: (_ORDER.get(str(e.validator), 2), [str(p) for p in e.absolute_path]))
    for error in ordered:
        for sentence in _SENTENCES.get(str(error.validator), _value_sentences)(error):
            if sentence not in found:
                found.append(sentence)
    return found


def _field(path: Iterable[Any]) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _parts(error: ValidationError) -> tuple[dict[str, Any], Any, Any]:
    """The failing (sub)schema, the value it failed on and the keyword's own value (e.g. the required list)."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    return schema, error.instance, error.validator_value


def _unknown_sentences(error: ValidationError) -> list[str]:
    schema, instance, _ = _parts(error)
    allowed = list(schema.get("properties", {}))
    unknown = sorted(str(key) for key in instance if key not in allowed)
    hint = f"allowed: {', '.join(allowed)}" if allowed else "this route takes none"
    where = f" in {_field(error.absolute_path)}" if error.absolute_path else ""
    return [f"Unknown field(s) {', '.join(repr(k[:40]) for k in unknown[:5])}{where}; {hint}."]


def _missing_sentences(error: ValidationError) -> list[str]:
    schema, instance, required = _parts(error)
    props = schema.get("properties", {})
    prefix = _field(error.absolute_path)
    sentences = []
    for name in required:
        if name not in instance:
            field = f"{prefix}.{name}" if prefix else name
            sentences.append(f"{field} is missing: it must be {expected(props.get(name, {}))}.")
    return sentences


def _dependent_sentences(error: ValidationError) -> list[str]:
    _, instance, dependencies = _parts(error)
    return [f"{needed} is required when {given} is given." for given, needs in dependencies.items()
            if given in instance for needed in needs if needed not in instance]


def _value_sentences(error: ValidationError) -> list[str]:
    schema, instance, _ = _parts(error)
    if not error.absolute_path:
        if str(error.validator) == "type":
            return [f"The request body must be a JSON object, e.g. {_example(schema)}."]
        return [f"The request body must be {expected(schema)}."]
    sentence = f"{_field(error.absolute_path)} must be {expected(schema)}"
    if str(error.validator) in _SHOW_VALUE:
        sentence += f", not {_shown(instance)}"
    return [sentence + "."]


_SENTENCES: dict[str, Callable[[ValidationError], list[str]]] = {
    "additionalProperties": _unknown_sentences, "required": _missing_sentences,
    "dependentRequired": _dependent_sentences,
}


def expected(schema: dict[str, Any]) -> str:
    """What a value of ``schema`` is, as the end of "<field> must be ...": its ``x-expected``, or from its rules."""
    if "x-expected" in schema:
        return str(schema["x-expected"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    phrase = " or ".join(_KINDS.get(t, t) for t in [t for t in types if t != "null"] or types) or "valid"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        phrase += f" between {low} and {high}"
    elif low is not None:
        phrase += f" of at least {low}"
    elif high is not None:
        phrase += f" of at most {high}"
    if "pattern" in schema:
        phrase += " of the documented pattern (see the OpenAPI document)"
    return phrase


def _shown(value: Any) -> str:
    """What the client sent, short: ``true``, ``null``, ``1.5`` as JSON; other values by kind only."""
    kinds: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    if type(value) in kinds:
        return kinds[type(value)]
    text = json.dumps(value)
    return text if len(text) <= 24 else f"a number of {len(text)} characters"
