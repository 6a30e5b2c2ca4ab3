"""The OpenAPI document: generated from the routes, and true to real answers."""

from __future__ import annotations

import pytest
from flask import Blueprint

from batch_debug.dashboard.openapi import build_document, operation
from dashboard_helpers import API, RECORDED_JOB, schema_errors


def test_openapi_lists_every_registered_route_and_method(client, app) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    expected = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<path:job_id>", "{job_id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            expected.add((path, method.lower()))
    listed = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert listed == expected
    assert {(f"{API}/enable", "post"), (f"{API}/job/{{job_id}}/trace", "get"), ("/healthz", "get"),
            (f"{API}/cleanup", "delete"), (f"{API}/openapi.json", "get")} <= listed


def test_every_operation_is_described_and_refs_resolve(client) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    ids = set()
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            ids.add(op["operationId"])
            assert op["summary"] and op["responses"], (path, method)
            assert any(code.startswith("2") for code in op["responses"]), (path, method)
            if path.startswith("/api/"):
                assert op["security"] == [{"bearerAuth": []}] and "401" in op["responses"]
            if "{job_id}" in path:
                assert {"name": "job_id", "in": "path", "required": True, "schema": {
                    "type": "string", "pattern": r"^(?!.*\.\.)[A-Za-z0-9._-]{1,128}$", "maxLength": 128}} in op["parameters"]
    assert len(ids) == sum(len(ops) for ops in document["paths"].values())  # operation ids are unique

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = set(refs(document))
    assert found and all(ref.rsplit("/", 1)[1] in schemas for ref in found)


def test_a_new_route_appears_without_editing_the_document(make_app) -> None:
    app = make_app()
    extra = Blueprint("extra", __name__, url_prefix="/api/v1/batch-debug")

    @extra.get("/things/<int:thing_id>")
    @operation("One thing", responses={200: "Health"})
    def thing(thing_id: int):
        return {"status": "ok"}

    app.register_blueprint(extra)
    op = build_document(app)["paths"]["/api/v1/batch-debug/things/{thing_id}"]["get"]
    assert op["summary"] == "One thing"
    assert op["parameters"][0] == {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _schema_of(document: dict, path: str, method: str, status: str) -> dict:
    return document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(("method", "url", "kwargs", "path", "status"), [
    ("get", f"{API}/status", {}, f"{API}/status", "200"),
    ("post", f"{API}/enable", {"json": {"duration_minutes": 3}}, f"{API}/enable", "200"),
    ("post", f"{API}/enable", {"json": {"duration_minutes": 0}}, f"{API}/enable", "400"),
    ("post", f"{API}/disable", {}, f"{API}/disable", "200"),
    ("get", f"{API}/jobs?per_page=5", {}, f"{API}/jobs", "200"),
    ("get", f"{API}/job/{RECORDED_JOB}/summary", {}, f"{API}/job/{{job_id}}/summary", "200"),
    ("get", f"{API}/job/nothing/summary", {}, f"{API}/job/{{job_id}}/summary", "404"),
    ("get", f"{API}/job/{RECORDED_JOB}/full-log", {}, f"{API}/job/{{job_id}}/full-log", "200"),
    ("get", f"{API}/job/{RECORDED_JOB}/trace", {}, f"{API}/job/{{job_id}}/trace", "200"),
    ("get", f"{API}/job/{RECORDED_JOB}/failed-ids", {}, f"{API}/job/{{job_id}}/failed-ids", "200"),
    ("get", f"{API}/job/nothing/failed-ids", {}, f"{API}/job/{{job_id}}/failed-ids", "404"),
    ("delete", f"{API}/cleanup?days=30", {}, f"{API}/cleanup", "200"),
    ("post", f"{API}/test-item", {"json": {"item_id": "x"}}, f"{API}/test-item", "400"),
    ("get", "/healthz", {}, "/healthz", "200"),
])
def test_real_answers_match_the_documented_schemas(client, add_job, method, url, kwargs, path, status) -> None:
    add_job()
    client.post(f"{API}/enable", json={"duration_minutes": 1})
    document = client.get(f"{API}/openapi.json").get_json()
    answer = getattr(client, method)(url, **kwargs)
    assert str(answer.status_code) == status
    errors = schema_errors(answer.get_json(), _schema_of(document, path, method, status), document)
    assert errors == []


def test_the_schema_checker_catches_a_wrong_answer(client) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    schema = _schema_of(document, f"{API}/status", "get", "200")
    wrong = {"debug_enabled": "yes", "surprise": 1}
    errors = schema_errors(wrong, schema, document)
    assert "$.debug_enabled: 'yes' is not of type 'boolean'" in errors
    assert any("'surprise' was unexpected" in e for e in errors)
    assert any("'recent_debug_files' is a required property" in e for e in errors)
    assert schema_errors({"status": "ok"}, {"$ref": "#/components/schemas/Health"}, document) == []
