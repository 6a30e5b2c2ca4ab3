"""Request bodies are checked by the schemas the OpenAPI document publishes, and refused in plain sentences."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from batch_debug.collector.switch import DebugSwitch
from batch_debug.dashboard.jsonbody import validator
from dashboard_helpers import API

ITEM_ID_RULE = "a string of 1 to 128 of the characters A-Z a-z 0-9 _ - (a Jellyfin id is 32 hex characters)"


def message_of(answer) -> str:
    assert answer.status_code == 400, answer.get_data(as_text=True)
    return answer.get_json()["error"]["message"]


@pytest.mark.parametrize(("url", "body", "message"), [
    (f"{API}/enable", {"duration_minutes": "30"},
     "duration_minutes must be a whole number between 1 and 1440, not a string."),
    (f"{API}/enable", {"duration_minutes": True},
     "duration_minutes must be a whole number between 1 and 1440, not true."),
    (f"{API}/enable", {"duration_minutes": 1441},
     "duration_minutes must be a whole number between 1 and 1440, not 1441."),
    (f"{API}/enable", {"duration_minutes": 0.5},
     "duration_minutes must be a whole number between 1 and 1440, not 0.5."),
    (f"{API}/enable", {"duration_minutes": 10 ** 40},
     "duration_minutes must be a whole number between 1 and 1440, not a number of 41 characters."),
    (f"{API}/enable", {"duration_minute": 5}, "Unknown field(s) 'duration_minute'; allowed: duration_minutes."),
    (f"{API}/test-item", {}, f"item_id is missing: it must be {ITEM_ID_RULE}."),
    (f"{API}/test-item", {"item_id": "../etc"}, f"item_id must be {ITEM_ID_RULE}."),
    (f"{API}/test-item", {"item_id": ["x"]}, f"item_id must be {ITEM_ID_RULE}, not an array."),
    (f"{API}/test-item", {"item_id": "x", "server": "ftp://x", "api_key": "k"},
     "server must be an http:// or https:// URL such as http://jellyfin:8096."),
    (f"{API}/test-item", {"itemid": "x"},
     f"Unknown field(s) 'itemid'; allowed: item_id, server, api_key. item_id is missing: it must be {ITEM_ID_RULE}."),
], ids=["wrong-type", "boolean", "above-range", "fraction", "huge-number", "unknown-field", "missing-required",
        "pattern", "array", "bad-url", "typo-explains-the-missing-field"])
def test_a_bad_field_is_named_with_what_it_must_be(client, job_dir, url, body, message) -> None:
    assert message_of(client.post(url, json=body)) == message
    assert not DebugSwitch(job_dir).is_on()


def test_a_string_the_client_sent_is_never_echoed(client) -> None:
    key = "hunter2 with a space"  # not visible ASCII only: refused, and it may be a real key
    message = message_of(client.post(f"{API}/test-item", json={"item_id": "x", "server": "http://h", "api_key": key}))
    assert message == "api_key must be a string of 1 to 256 visible ASCII characters."


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(client, constant) -> None:
    answer = client.post(f"{API}/enable", data=f'{{"duration_minutes": {constant}}}', content_type="application/json")
    assert message_of(answer) == 'The request body is not valid JSON: send a JSON object, e.g. {"duration_minutes": ...}.'


ENABLE_BODIES = [{}, {"duration_minutes": None}, {"duration_minutes": 1}, {"duration_minutes": 1440},
                 {"duration_minutes": 30.0}, {"duration_minutes": 0}, {"duration_minutes": -1},
                 {"duration_minutes": 1441}, {"duration_minutes": "5"}, {"duration_minutes": False},
                 {"duration_minutes": 2.5}, {"duration_minutes": {}}, {"minutes": 5}, [], "5", 5, None]


@pytest.mark.parametrize(("url", "body"), [*((f"{API}/enable", body) for body in ENABLE_BODIES),
                                           (f"{API}/disable", {}), (f"{API}/disable", {"force": True}),
                                           (f"{API}/disable", [])])
def test_the_api_refuses_exactly_what_its_published_schema_refuses(client, url, body) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    schema = document["paths"][url]["post"]["requestBody"]["content"]["application/json"]["schema"]
    valid = Draft202012Validator({**schema, "components": document["components"]}).is_valid(body)
    answer = client.post(url, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == (200 if valid else 400), (body, answer.get_json())


def test_every_published_schema_is_json_schema_2020_12_and_the_validators_are_built_once(client) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")  # whose schema dialect is JSON Schema 2020-12
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert validator("EnableRequest") is validator("EnableRequest")
    with pytest.raises(ValueError, match="No schema 'Nope'"):
        validator("Nope")


@pytest.mark.parametrize(("method", "url", "query", "message"), [
    ("delete", f"{API}/cleanup", {"days": "99999"}, "days must be a whole number between 0 and 36500, not 99999."),
    ("delete", f"{API}/cleanup", {"days": "-1"}, "days must be a whole number between 0 and 36500."),
    ("delete", f"{API}/cleanup", {"days": "٣"}, "days must be a whole number between 0 and 36500."),
    ("get", f"{API}/jobs", {"page": "0"}, "page must be a whole number between 1 and 999999999999, not 0."),
    ("get", f"{API}/jobs", {"per_page": "101"}, "per_page must be a whole number between 1 and 100, not 101."),
    ("get", f"{API}/jobs", {"per_page": "10", "page": "x"}, "page must be a whole number between 1 and 999999999999."),
], ids=["above-range", "negative", "not-ascii", "page-zero", "per-page-too-big", "not-a-number"])
def test_a_bad_query_parameter_is_named_with_what_its_published_schema_says(client, method, url, query,
                                                                              message) -> None:
    assert message_of(getattr(client, method)(url, query_string=query)) == message


def test_query_parameters_get_their_published_defaults(client) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    jobs = client.get(f"{API}/jobs").get_json()
    per_page = next(p for p in document["paths"][f"{API}/jobs"]["get"]["parameters"] if p["name"] == "per_page")
    assert (jobs["page"], jobs["per_page"]) == (1, per_page["schema"]["default"])
