"""An OpenAPI 3.1 document generated from the app's registered routes.

Usage::

    @bp.get("/status")
    @operation("Debug state, live jobs and recent files", responses={200: "Status"})
    def status(): ...

    document = build_document(app)      # served at /api/v1/batch-debug/openapi.json

:func:`build_document` walks ``app.url_map``: every rule (but Flask's
``static``) and every method but HEAD and OPTIONS becomes an operation, with
its path parameters taken from the rule itself. What a rule cannot say (a
summary, query parameters, request and response bodies) comes from the
metadata ``@operation`` attaches to the view; a view without it still
appears, described by its docstring. Schemas named by a string refer to
``schemas.SCHEMAS``. Routes under ``/api/`` get the bearer security scheme
and a 401 answer; every operation gets a 403 answer (a ``Host`` that is not
allowed, or a cross-origin state change, for requests without the token).
:data:`COMPONENTS` is the document's ``components``: the request schemas in
it are the ones ``jsonbody`` validates bodies with (see :func:`body_of`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypeVar

from flask import Flask

import batch_debug

from ..collector.jobfile import JOB_ID_PATTERN
from .auth import API_PREFIX
from .schemas import SCHEMAS, ref

ATTRIBUTE = "__openapi__"
F = TypeVar("F", bound=Callable[..., Any])
_RULE_ARG = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}
JSON = "application/json"


#: The ``components`` of every document; ``jsonbody`` resolves request schemas in it.
COMPONENTS: dict[str, Any] = {
    "schemas": SCHEMAS,
    "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
}


def query_param(name: str, description: str, schema: Mapping[str, Any], *, required: bool = False) -> dict[str, Any]:
    """An OpenAPI query parameter object."""
    return {"name": name, "in": "query", "required": required, "description": description, "schema": dict(schema)}


def operation(summary: str, *, params: Sequence[Mapping[str, Any]] = (), body: str | None = None,
              body_required: bool = False, responses: Mapping[int, str | Mapping[str, Any]] | None = None,
              download: str | None = None, request_body: Mapping[str, Any] | None = None,
              secured: bool | None = None,
              download_types: Mapping[str, Mapping[str, Any]] | None = None) -> Callable[[F], F]:
    """Attach OpenAPI metadata to a view.

    ``responses`` maps a status to a schema name (a JSON body of that schema)
    or to a whole OpenAPI response object. ``download`` names the schema of
    a 200 answer sent as an attachment (``Content-Disposition``);
    ``download_types`` adds the other media types it can be sent as
    (media type -> OpenAPI media type object), for a route that negotiates.
    ``request_body`` is a whole OpenAPI request body object (other media
    types than JSON). ``secured``: needs the bearer token; default: routes
    under ``/api/``.
    """

    def decorate(view: F) -> F:
        setattr(view, ATTRIBUTE, {"summary": summary, "params": list(params), "body": body,
                                  "body_required": body_required, "responses": dict(responses or {}),
                                  "download": download, "request_body": request_body, "secured": secured,
                                  "download_types": dict(download_types or {})})
        return view

    return decorate


def body_of(view: Callable[..., Any] | None) -> tuple[str, bool] | None:
    """The JSON request body ``@operation`` gave ``view``: (schema name, required), or None if it has none."""
    meta = getattr(view, ATTRIBUTE, None) or {}
    return (meta["body"], bool(meta["body_required"])) if meta.get("body") else None


def _response(status: int, spec: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"description": HTTPStatus(status).phrase, "content": {JSON: {"schema": ref(spec)}}}
    return dict(spec)


#: Path parameters whose rule is more than their converter says.
PATH_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "job_id": {"type": "string", "pattern": rf"^(?!.*\.\.){JOB_ID_PATTERN}$", "maxLength": 128},
}


def _path_and_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in _RULE_ARG.finditer(rule):
        schema = dict(PATH_PARAM_SCHEMAS.get(match["name"])
                      or _CONVERTER_TYPES.get(match["converter"] or "", {"type": "string"}))
        params.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule), params


def _operation(endpoint: str, method: str, rule: str, view: Callable[..., Any],
               path_params: list[dict[str, Any]]) -> dict[str, Any]:
    meta: dict[str, Any] = getattr(view, ATTRIBUTE, None) or {}
    doc = (view.__doc__ or "").strip().splitlines()
    op: dict[str, Any] = {
        "operationId": f"{endpoint.replace('.', '_')}_{method.lower()}",
        "summary": meta.get("summary") or (doc[0] if doc else endpoint),
        "tags": [endpoint.split(".", 1)[0]] if "." in endpoint else ["app"],
    }
    params = [*path_params, *meta.get("params", [])]
    if params:
        op["parameters"] = params
    if meta.get("body"):
        op["requestBody"] = {"required": meta["body_required"], "content": {JSON: {"schema": ref(meta["body"])}}}
    if meta.get("request_body"):
        op["requestBody"] = dict(meta["request_body"])
    responses = {str(s): _response(s, spec) for s, spec in sorted(meta.get("responses", {}).items())}
    if meta.get("download"):
        responses["200"] = {
            "description": "The file, as an attachment",
            "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                                "description": "attachment; filename=..."}},
            "content": {JSON: {"schema": ref(meta["download"])}, **meta.get("download_types", {})},
        }
    secured = meta.get("secured")
    if secured or (secured is None and rule.startswith(API_PREFIX)):
        op["security"] = [{"bearerAuth": []}]
        responses.setdefault("401", _response(401, "Error"))
    responses.setdefault("403", _response(403, "Error"))
    if not any(code.startswith("2") for code in responses):
        responses["200"] = {"description": "OK"}
    responses.setdefault("default", {"description": "Any other error", "content": {JSON: {"schema": ref("Error")}}})
    op["responses"] = responses
    return op


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route registered on ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        path, path_params = _path_and_params(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, method, rule.rule, view, path_params)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "batch-debug dashboard API",
            "version": batch_debug.__version__,
            "description": "Switch per-job debug tracing on and off, follow running jobs, read job "
                           "summaries, download job files and OTLP traces, test one Jellyfin item. "
                           "With APHRODITE_BATCH_DEBUG_TOKEN set, every /api/ route and the OTLP "
                           "receiver /v1/traces need 'Authorization: Bearer <token>'.",
        },
        "paths": paths,
        "components": COMPONENTS,
    }
