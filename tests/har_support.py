"""The HAR 1.2 JSON Schema vendored from the npm package ``har-schema`` (``tests/data/har-schema/``).

Usage::

    from har_support import har_errors
    assert har_errors(archive) == []        # each error as "$.path: message"

The package's files are draft-06 schemas that name each other by ``$id``
(``"$ref": "log.json#"``): each is registered under its file name in a
``referencing.Registry``, so ``har.json`` resolves them all offline. Formats
are checked (``ipv4``/``ipv6`` of ``serverIPAddress`` rely on it: without a
format checker that ``oneOf`` would refuse every address).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "har-schema"


@cache
def har_validator() -> Draft6Validator:
    """A validator of whole HAR documents (``har.json``), every ``$ref`` resolved from the vendored files."""
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((path.name, Resource.from_contents(contents, default_specification=DRAFT6)))
    registry: Registry = Registry().with_resources(resources)
    root = registry.contents("har.json")
    return Draft6Validator(root, registry=registry, format_checker=FormatChecker())


def har_errors(document: Any) -> list[str]:
    """Every way ``document`` breaks the HAR 1.2 schema, as ``$.path: message`` lines; [] when it is valid."""
    return [f"{error.json_path}: {error.message}"
            for error in sorted(har_validator().iter_errors(document), key=lambda e: list(e.absolute_path))]
