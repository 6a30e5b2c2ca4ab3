"""A 200 that is no poster: a sign-in page, a document, nothing. Told from the bytes, whoever sent them.

The simulator's ``sign_in_page`` shape (a portal answering in Jellyfin's
place for a window) runs through the reference worker on each client and
through a job written from scratch that never looks at what it saved; a
second server, written here and sharing nothing with the simulator, answers
posters with a page that claims to be a JPEG, an error document, an empty
body and a page carrying the key, so the rules are checked on answers they
were not written against.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from batch_debug.jellyfin.replies import SIGN_IN_MESSAGE
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from batch_debug.jellyfin.worker_aiohttp import run_job_aiohttp
from batch_debug.jellyfin.worker_async import run_job_async
from batch_debug.jellyfin.worker_requests import run_job_requests
from scenario_checks import check_common, load
from scenario_jobs import gather_job
from support import API_KEY, NO_WAIT, scan_for_secret

RUNNERS: dict[str, Callable[[WorkerConfig, list[str], str], Any]] = {
    "httpx": run_job,
    "httpx-async": lambda config, ids, job: asyncio.run(run_job_async(config, ids, job)),
    "aiohttp": lambda config, ids, job: asyncio.run(run_job_aiohttp(config, ids, job)),
    "requests": run_job_requests,
}


def _paged(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in data["requests"] if r.get("body_kind") == "html"]


@pytest.mark.parametrize("client", list(RUNNERS))
def test_a_sign_in_page_answered_with_200_is_named_whoever_runs_the_job(debug_pipeline, make_sim,
                                                                        client: str) -> None:
    sim = make_sim("healthy", shapes=Shapes(sign_in_page=(12, 15)))
    ids = sim.item_ids[:12]
    result = RUNNERS[client](WorkerConfig(server=sim.url, api_key=API_KEY, concurrency=1, **NO_WAIT), ids,
                             f"portal-{client}")
    data = load(debug_pipeline, f"portal-{client}")
    served = [r for r in sim.stats()["requests"] if r.get("fault") == "sign_in_page"]
    page_gets = [r for r in served if r["method"] == "GET"]
    found = check_common(data, result.requests, forbidden=("unexplained_failures", "proxy_answered",
                                                           "items_not_found", "outage_window",
                                                           "worker_side_failures"))
    page = found["page_instead_of_image"]
    evidence = page["evidence"]
    assert page["confidence"] == "high"
    # Every GET the portal answered (posters and look-ups alike), and nothing else: HEADs have no body.
    assert evidence["attempts"] == len(page_gets) == len(_paged(data)) > 0
    assert evidence["servers"] == {"portal/2.4": len(page_gets)}
    assert set(evidence["image_servers"]) == {"Kestrel"} and evidence["images_received"] > 0
    assert evidence["images_before"] and evidence["images_after"]  # it came and went
    assert evidence["body_said"].startswith("Sign in")
    assert "portal/2.4" in page["cause"] and "Kestrel" in page["cause"] and "answered in its place" in page["cause"]
    for record in _paged(data):
        assert record["status_code"] == 200 and record["content_type"] == "text/html"
        assert SIGN_IN_MESSAGE in record["body_text"] and "<" not in record["body_text"]
    assert not [r for r in data["requests"] if r.get("body_kind") and r not in _paged(data)]
    # The worker refuses to save a page as a poster: those items failed, and say why.
    poster_pages = {r["item_id"] for r in _paged(data) if "/Images/" in r["url"]}
    failed = {i["item_id"]: i["error"] for i in data["items"] if i["outcome"] == "failed"}
    assert set(failed) == poster_pages and result.failed == len(poster_pages) > 0
    assert all("is not an image (text/html" in error for error in failed.values())


def test_a_job_that_saved_the_pages_as_posters_is_not_called_clean(debug_pipeline, make_sim) -> None:
    """A job written from scratch checks the status only: every item succeeded by its own account."""
    sim = make_sim("healthy", shapes=Shapes(sign_in_page=(6, 30)))
    outcome = gather_job(sim.url, API_KEY, sim.item_ids[:20], "portal-gather", concurrency=4)
    data = load(debug_pipeline, "portal-gather")
    assert outcome.failed_items == [] and data["summary"]["items_failed"] == 0
    found = check_common(data, outcome.sent)
    assert not data["summary"]["recommendations"][0].startswith("No problems")
    page = found["page_instead_of_image"]
    assert page["evidence"]["attempts"] == 30 and page["evidence"]["items_failed"] == 0
    assert f"The job took these answers as good: its {page['evidence']['items']} items succeeded." in page["cause"]


# -- a server written here: other faults, other words --------------------------------------------------------

PAGE_AS_JPEG = "aa" * 16
DOCUMENT = "bb" * 16
EMPTY = "cc" * 16
KEYED_PAGE = "dd" * 16
POSTER = "ee" * 16
BEHIND_SIGN_IN = "ff" * 16
NO_CONTENT = "ab" * 16
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(2000)
SECRET = "Zq7kP2vX9mWc4Rt8"
#: A key the job never sent (so never learned as a literal): only the patterns can find it in a page.
OTHER = "Lm4nB8vC2xZq6Wd1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "edge-cache/7"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.path.startswith("/sso/login"):
            return self._send(b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>User "
                              b"<input name=u></form></body></html>", "text/html; charset=utf-8")
        if self.path == f"/Items/{BEHIND_SIGN_IN}/Images/Primary":
            self.send_response(302)
            self.send_header("Location", f"/sso/login?rd={self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if not self.path.endswith("/Images/Primary"):
            return self._send(json.dumps({"Id": self.path.split("/")[2], "Name": "x"}).encode(), "application/json")
        item = self.path.split("/")[2]
        if item == PAGE_AS_JPEG:
            return self._send(b"\n<HTML><HEAD><TITLE>Access check</TITLE></HEAD><BODY>Verify you are human</BODY>"
                              b"</HTML>", "image/jpeg")
        if item == DOCUMENT:
            return self._send(b'{"status": "error", "message": "image cache miss"}', "application/json")
        if item == EMPTY:
            return self._send(b"", "image/jpeg")
        if item == NO_CONTENT:
            self.send_response(204)
            self.end_headers()
            return None
        if item == KEYED_PAGE:
            return self._send(f"<html><body>Session for api_key={OTHER} expired; Token=\"{OTHER}\""
                              "</body></html>".encode(), "text/html")
        return self._send(JPEG, "image/jpeg")


@pytest.fixture
def edge() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)  # a quick shutdown
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _run_on(server: str, client: str, ids: list[str], job: str, pipeline: Any) -> dict[str, Any]:
    """The job on ``server``: written from scratch on httpx (``gather``), or the reference worker on a client."""
    if client == "gather":
        gather_job(server, SECRET, ids, job, concurrency=2)
    else:
        RUNNERS[client](WorkerConfig(server=server, api_key=SECRET, concurrency=1, **NO_WAIT), ids, job)
    return load(pipeline, job)


@pytest.mark.parametrize("client", ["gather", "aiohttp", "requests"])
def test_pages_documents_and_empty_bodies_from_another_server_are_each_named(debug_pipeline, edge, debug_dir,
                                                                            client: str) -> None:
    data = _run_on(edge, client, [POSTER, PAGE_AS_JPEG, DOCUMENT, EMPTY, KEYED_PAGE, NO_CONTENT, POSTER.upper()],
                   f"edge-{client}", debug_pipeline)
    found = {f["id"]: f for f in data["summary"]["findings"]}
    page, document, empty = (found["page_instead_of_image"], found["document_instead_of_image"],
                             found["empty_images"])
    # The page that says it is a JPEG is told by its bytes, on every client (aiohttp reads it off its buffer).
    assert set(page["evidence"]["example_item_ids"]) == {PAGE_AS_JPEG, KEYED_PAGE}
    assert page["evidence"]["content_types"] == {"image/jpeg": 1, "text/html": 1}
    # One Server header in front of everything: what stands behind it cannot be told, so no "high".
    assert page["evidence"]["servers"] == {"edge-cache/7": 2} and page["confidence"] == "medium"
    assert document["evidence"]["example_item_ids"] == [DOCUMENT]
    assert "image cache miss" in document["cause"]
    assert set(empty["evidence"]["example_item_ids"]) == {EMPTY, NO_CONTENT} and empty["confidence"] == "medium"
    assert empty["evidence"]["status_codes"] == {"200": 1, "204": 1} and "answered 200 and 204 with" in empty["cause"]
    kinds = {r["item_id"]: r.get("body_kind") for r in data["requests"] if r["url"].endswith("/Images/Primary")
             and r["method"] == "GET"}
    assert kinds == {POSTER: None, PAGE_AS_JPEG: "html", DOCUMENT: "json", EMPTY: "empty", KEYED_PAGE: "html",
                     NO_CONTENT: "empty", POSTER.upper(): None}
    keyed = next(r for r in data["requests"] if r["item_id"] == KEYED_PAGE and r.get("body_text"))
    assert OTHER not in keyed["body_text"] and "expired" in keyed["body_text"]
    assert scan_for_secret(debug_dir, SECRET) == [] and scan_for_secret(debug_dir, OTHER) == []


@pytest.mark.parametrize("client", ["gather", "aiohttp", "requests"])
def test_a_sign_in_proxy_that_redirects_posters_to_its_login_page_is_named(debug_pipeline, edge, client: str) -> None:
    data = _run_on(edge, client, [POSTER, BEHIND_SIGN_IN], f"sso-{client}", debug_pipeline)
    found = {f["id"]: f for f in data["summary"]["findings"]}
    page = found["page_instead_of_image"]
    assert page["evidence"]["redirected_to"] == ["/sso/login"] and page["evidence"]["example_item_ids"] == [BEHIND_SIGN_IN]
    assert "redirected to /sso/login, which answered 200 with an HTML page (\u201cSign in" in page["cause"]
    assert "worker_side_failures" not in found and "unexplained_failures" not in found
