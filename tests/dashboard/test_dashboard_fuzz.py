"""Fuzz the API from its own OpenAPI document: no 500, every answer matches the document."""

from __future__ import annotations

import re

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from batch_debug.collector import jobfile
from batch_debug.dashboard.schemas import HTTP_URL_PATTERN
from batch_debug.dashboard.app import create_app
from batch_debug.jellyfin.simulator import JellyfinSimulator

_FOLDER = Path(tempfile.mkdtemp(prefix="batch-debug-fuzz-"))
jobfile.write_atomic(_FOLDER, "fuzz-job", '{"job_id":"fuzz-job","complete":true,"summary":{"job_id":"fuzz-job",'
                     '"total_requests":0},"items":[],"requests":[],"resourceSpans":[]}')
TOKEN = "fuzz-token"
# A real Jellyfin simulator, so /test-item answers with a diagnosis (it stops with the process).
SIM = JellyfinSimulator(profile="mixed", seed=5, api_key="fuzz-jellyfin-key").start()
# With a token, as the document says every /api/ route needs one.
APP = create_app({"DEBUG_DIR": str(_FOLDER), "API_TOKEN": TOKEN, "JELLYFIN_URL": SIM.url,
                   "JELLYFIN_API_KEY": SIM.api_key})
schema = schemathesis.openapi.from_wsgi("/api/v1/batch-debug/openapi.json", APP,
                                       headers={"Authorization": f"Bearer {TOKEN}"})


@schema.auth()
class BearerToken:
    """Schemathesis applies this to each case, except the ones that test a missing token."""

    def get(self, case, context) -> str:
        return TOKEN

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
# derandomize: CI runs the same examples every time; widen max_examples locally to explore.
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_matches_its_document(case) -> None:
    server = case.body.get("server") if isinstance(case.body, dict) else None
    if isinstance(server, str) and re.match(HTTP_URL_PATTERN, server):
        # Keep /test-item on loopback: the generated URL would name a host on the internet.
        case.body["server"] = SIM.url
    case.call_and_validate()
