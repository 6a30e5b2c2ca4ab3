"""GET /job/<id>/failed-ids: the items to run again, by the summary's own count."""

from __future__ import annotations

import json

import pytest

from batch_debug.collector import jobfile
from dashboard_helpers import API, RECORDED_JOB


def test_failed_ids_are_the_failed_items_in_item_order(client, add_job, recorded_job_file) -> None:
    add_job()
    answer = client.get(f"{API}/job/{RECORDED_JOB}/failed-ids")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = answer.get_json()
    document = json.loads(recorded_job_file.read_text())
    failed = [i["item_id"] for i in document["items"] if i["outcome"] != "succeeded"]
    assert failed, "the mixed simulator fails some demo items on purpose"
    assert body == {"job_id": RECORDED_JOB, "failed_item_ids": failed, "unfinished_item_ids": []}
    assert len(body["failed_item_ids"]) == client.get(f"{API}/job/{RECORDED_JOB}/summary").get_json()["items_failed"]


def _stop_before_the_last_item_ended(document: dict) -> None:
    """The file a process stopped mid-job writes: the last item to start has requests but no item record."""
    last = document["items"].pop()
    document["complete"] = document["summary"]["complete"] = False
    document["summary"]["items_unfinished"] = 1
    if last["outcome"] != "succeeded":
        document["summary"]["items_failed"] -= 1
    else:
        document["summary"]["items_succeeded"] -= 1
    document["stopped_item"] = last["item_id"]


def test_an_item_that_never_ended_is_listed_as_unfinished(client, add_job) -> None:
    path = add_job("stopped", mutate=_stop_before_the_last_item_ended)
    document = json.loads(path.read_text())
    body = client.get(f"{API}/job/stopped/failed-ids").get_json()
    assert body["unfinished_item_ids"] == [document["stopped_item"]]
    assert document["stopped_item"] not in body["failed_item_ids"]
    assert len(body["failed_item_ids"]) == document["summary"]["items_failed"]


def test_only_the_head_is_read_unless_items_are_unfinished(client, add_job) -> None:
    """A file cut short after its head still answers; naming unfinished items needs the requests, so 422."""
    for job_id, mutate in (("cut", None), ("cut-stopped", _stop_before_the_last_item_ended)):
        path = add_job(job_id, mutate=mutate)
        whole = path.read_bytes()
        path.write_bytes(whole[:whole.index(jobfile.STREAM_MARKER) + len(jobfile.STREAM_MARKER) + 40])
    assert client.get(f"{API}/job/cut/failed-ids").status_code == 200
    answer = client.get(f"{API}/job/cut-stopped/failed-ids")
    assert answer.status_code == 422 and "cut-stopped" in answer.get_json()["error"]["message"]


@pytest.mark.parametrize(("job_id", "status"), [("../etc", 400), ("a..b", 400), ("x" * 129, 400),
                                                ("no-such-job", 404), ("%2Fetc%2Fpasswd", 404)])
def test_bad_or_unknown_job_ids(client, add_job, job_id, status) -> None:
    add_job()
    answer = client.get(f"{API}/job/{job_id}/failed-ids")
    assert answer.status_code == status
    assert answer.get_json()["error"]["status"] == status


def test_a_damaged_file_is_422_naming_it(client, job_dir) -> None:
    path = job_dir / "job_broken_20260101_120000.json"
    path.write_text("{truncated")
    answer = client.get(f"{API}/job/broken/failed-ids")
    assert answer.status_code == 422 and path.name in answer.get_json()["error"]["message"]
