"""The API key's history: revoked mid-job, sent in a form the server ignores, and learned when never told.

Each shape runs with the reference worker and with a job written from
scratch, against the simulator's ground truth.
"""

from __future__ import annotations

import logging
import secrets as random_secrets
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from batch_debug.collector.secrets import fingerprint
from batch_debug.dashboard.app import create_app
from batch_debug.jellyfin.shapes import Shapes
from scenario_checks import check_common, load, served_by_job
from scenario_jobs import STYLES
from support import API_KEY


@pytest.mark.parametrize("style", ["reference", "threads"])
def test_a_key_revoked_mid_job_is_not_called_a_wrong_key(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(revoke_key_after=12))
    ids = sim.item_ids[:20]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"revoked-{style}", concurrency=4)
    data = load(debug_pipeline, f"revoked-{style}")
    truth = sim.truth()["revoked"]
    found = check_common(data, outcome.sent, forbidden=("key_rejected", "auth_form_not_accepted", "no_credential",
                                                        "auth_intermittent"))
    evidence = found["key_revoked"]["evidence"]
    assert evidence["accepted"] == truth["accepted_before"] == 12
    assert evidence["rejected"] == truth["rejected_after"] == 8
    assert evidence["credential_fp"] == fingerprint(API_KEY) and evidence["credential_form"] == "authorization"
    assert evidence["last_accepted_ms"] < evidence["first_rejected_ms"] or evidence["attempts"] == 8
    assert data["summary"]["items_failed"] == 8


@pytest.mark.parametrize("style", ["reference", "gather"])
def test_a_right_key_in_a_form_an_old_server_ignores_is_named_so(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(legacy_auth_only=True))
    ids = sim.item_ids[:6]
    outcome = STYLES[style](sim.url, API_KEY, ids, f"modern-{style}", concurrency=4, form="authorization")
    data = load(debug_pipeline, f"modern-{style}")
    assert sim.truth()["version"] == "10.7.7"
    found = check_common(data, outcome.sent, forbidden=("key_rejected", "key_revoked"))
    evidence = found["auth_form_not_accepted"]["evidence"]
    assert evidence["rejected"] == 6 and evidence["accepted"] == 0
    assert evidence["server_version"] == "10.7.7" and evidence["forms_refused"] == ["authorization"]
    assert data["environment"]["server_info"]["Version"] == "10.7.7"


@pytest.mark.parametrize("style", ["reference", "gather"])
def test_the_legacy_form_on_a_legacy_only_server_is_fine(debug_pipeline, make_sim, style) -> None:
    sim = make_sim("healthy", shapes=Shapes(legacy_auth_only=True))
    outcome = STYLES[style](sim.url, API_KEY, sim.item_ids[:6], f"legacy-{style}", concurrency=4,
                            form="x-emby-token")
    data = load(debug_pipeline, f"legacy-{style}")
    check_common(data, outcome.sent)
    assert data["summary"]["findings"] == []


def _protobuf(spans) -> bytes:
    return encode_spans(list(spans)).SerializeToString()


@pytest.mark.parametrize("style, form", [("threads", "x-emby-token"), ("gather", "authorization"),
                                         ("gather", "query-apikey"), ("reference", "query-apikey")])
def test_a_key_only_ever_sent_in_headers_never_leaks_even_pasted_into_errors(
        debug_pipeline, recorded_spans, make_sim, debug_dir: Path, caplog, style, form) -> None:
    key = f"tok-{random_secrets.token_hex(16)}"  # never configured, never added: only sent
    sim = make_sim("healthy", api_key=key, shapes=Shapes(revoke_key_after=4))
    caplog.set_level(logging.DEBUG)
    outcome = STYLES[style](sim.url, key, sim.item_ids[:10], "pasted", concurrency=2, form=form,
                            paste_headers=True)
    data = load(debug_pipeline, "pasted")
    check_common(data, outcome.sent)
    errors = [i["error"] for i in data["items"] if i["error"]]
    assert len(errors) == 6
    if style != "reference":  # it writes its own short errors; the others paste what they sent
        assert all("[REDACTED]" in e for e in errors)
    assert len(served_by_job(sim)) == outcome.sent
    assert key.encode() not in debug_dir.joinpath(data_path := Path(debug_pipeline.job_file("pasted")).name).read_bytes()
    assert key.encode() not in _protobuf(recorded_spans.get_finished_spans())
    assert key not in caplog.text
    client = create_app({"TESTING": True, "DEBUG_DIR": str(debug_dir), "API_TOKEN": None}).test_client()
    base = "/api/v1/batch-debug"
    for path in ("/job/pasted/summary", "/job/pasted/full-log", "/job/pasted/trace", "/jobs", "/status"):
        answer = client.get(base + path)
        assert answer.status_code == 200, path
        assert key.encode() not in answer.data, path
    assert data_path.startswith("job_pasted_")
