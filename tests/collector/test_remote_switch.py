"""Workers on other hosts follow the sidecar's switch over HTTP (a real dashboard server on loopback), and
their token goes nowhere else."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from batch_debug.collector import status_wire
from batch_debug.collector.remote_switch import RemoteSwitch, make_switch
from batch_debug.collector.switch import DebugSwitch, SwitchState
from batch_debug.dashboard.app import create_app
from batch_debug.dashboard.server import create_server

API = "/api/v1/batch-debug"


class Sidecar:
    """``batch-debug serve`` in a thread, on its own folder."""

    def __init__(self, folder: Path, token: str | None = None) -> None:
        self.token = token
        app = create_app({"DEBUG_DIR": str(folder), "API_TOKEN": token, "TESTING": True})
        self.server = create_server("127.0.0.1", 0, app=app)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def call(self, verb: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"duration_minutes": 5} if verb == "enable" else None
        httpx.post(f"{self.url}{API}/{verb}", json=body, headers=headers).raise_for_status()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[Callable[..., Sidecar]]:
    started: list[Sidecar] = []

    def start(token: str | None = None) -> Sidecar:
        started.append(Sidecar(tmp_path / f"sidecar-{len(started)}", token))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def _becomes(switch: RemoteSwitch, expected: bool, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while switch.is_on() is not expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return switch.is_on() is expected


def test_the_switch_follows_enable_and_disable_at_the_sidecar(sidecar) -> None:
    side = sidecar()
    switch = RemoteSwitch(side.url, environ={}, interval=0.1)
    try:
        assert switch.is_on() is False
        side.call("enable")
        assert _becomes(switch, True)
        assert switch.state().source == "remote" and switch.state().expires_at is not None
        side.call("disable")
        assert _becomes(switch, False)
    finally:
        switch.close()


def test_debug_on_at_start_is_seen_by_the_first_question(sidecar) -> None:
    side = sidecar()
    side.call("enable")
    switch = RemoteSwitch(side.url, environ={}, interval=0.1, first_wait=10.0)
    try:
        assert switch.is_on() is True  # a job started right away is recorded
    finally:
        switch.close()


def test_a_sidecar_outage_turns_debug_off(sidecar, caplog) -> None:
    side = sidecar()
    side.call("enable")
    switch = RemoteSwitch(side.url, environ={}, interval=0.1)
    try:
        assert _becomes(switch, True)
        with caplog.at_level(logging.WARNING, logger="batch_debug.collector.remote_switch"):
            side.stop()
            assert _becomes(switch, False)
        assert sum("cannot ask the sidecar" in r.getMessage() for r in caplog.records) == 1  # once per streak
    finally:
        switch.close()


def test_the_token_is_sent_and_a_wrong_one_means_off(sidecar, caplog) -> None:
    side = sidecar(token="remote-s3cret")
    side.call("enable")
    right = RemoteSwitch(side.url, token="remote-s3cret", environ={}, interval=0.1)
    wrong = RemoteSwitch(side.url, token="guess", environ={}, interval=0.1)
    try:
        with caplog.at_level(logging.WARNING, logger="batch_debug.collector.remote_switch"):
            assert _becomes(right, True)
            assert wrong.is_on() is False and wrong.poll() is False
        assert any("refused the token" in r.getMessage() for r in caplog.records)
    finally:
        right.close()
        wrong.close()


def test_something_that_is_no_sidecar_means_off(make_sim) -> None:
    sim = make_sim("healthy")  # answers, but not with a switch state
    switch = RemoteSwitch(sim.url, environ={}, interval=0.1)
    try:
        assert switch.poll() is False and switch.is_on() is False
    finally:
        switch.close()


def test_the_env_var_still_wins(sidecar) -> None:
    side = sidecar()
    switch = RemoteSwitch(side.url, environ={"APHRODITE_BATCH_DEBUG": "yes"})
    assert switch.is_on() is True and switch.state().source == "env"


def _child_sees(switch: RemoteSwitch, answer) -> None:
    answer.put(_becomes(switch, True))


def test_a_forked_worker_polls_for_itself(sidecar) -> None:
    side = sidecar()
    side.call("enable")
    switch = RemoteSwitch(side.url, environ={}, interval=0.1)
    try:
        assert _becomes(switch, True)  # the parent's poller runs; the child's copy of it would not
        context = multiprocessing.get_context("fork")
        answer = context.Queue()
        child = context.Process(target=_child_sees, args=(switch, answer))
        child.start()
        assert answer.get(timeout=30) is True
        child.join(10)
    finally:
        switch.close()


def test_make_switch_picks_by_environment(tmp_path: Path, caplog) -> None:
    remote = make_switch(tmp_path, environ={"APHRODITE_BATCH_DEBUG_URL": "http://sidecar:8000/",
                                            "APHRODITE_BATCH_DEBUG_TOKEN": "t"})
    assert isinstance(remote, RemoteSwitch) and remote.url == "http://sidecar:8000"
    assert isinstance(make_switch(tmp_path, environ={}), DebugSwitch)
    with caplog.at_level(logging.WARNING):
        fallback = make_switch(tmp_path, environ={"APHRODITE_BATCH_DEBUG_URL": "sidecar:8000"})
    assert isinstance(fallback, DebugSwitch)
    assert "APHRODITE_BATCH_DEBUG_URL" in caplog.text


class _Recording(ThreadingHTTPServer):
    """A tiny HTTP server on loopback that notes the Authorization header of every request it gets."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.seen: list[str | None] = []
        recording = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                recording.seen.append(self.headers.get("Authorization"))
                answer(self)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_port}"
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def _switch_state(handler: BaseHTTPRequestHandler) -> None:
    body = json.dumps({status_wire.DEBUG_ENABLED: True, status_wire.REMAINING_SECONDS: 300}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _redirect_to(base: Callable[[], str], path: str | None = None) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path != "/api/v1/batch-debug/status":
            return _switch_state(handler)
        handler.send_response(302)
        handler.send_header("Location", base() + (path or handler.path))
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return answer


def test_a_redirect_to_another_origin_never_gets_the_token(caplog: pytest.LogCaptureFixture) -> None:
    elsewhere = _Recording(_switch_state)
    sidecar = _Recording(_redirect_to(lambda: elsewhere.url))
    switch = RemoteSwitch(sidecar.url, token="remote-s3cret", environ={}, interval=60)
    try:
        with caplog.at_level(logging.WARNING, logger="batch_debug.collector.remote_switch"):
            assert switch.poll() is False
        assert sidecar.seen == ["Bearer remote-s3cret"]
        assert "another origin" in caplog.text
        assert switch.is_on() is False  # the poller too
        assert elsewhere.seen == []  # not asked at all, so certainly without the token
    finally:
        switch.close()
        sidecar.stop()
        elsewhere.stop()


def test_a_redirect_within_the_sidecar_is_followed_with_the_token() -> None:
    holder: list[_Recording] = []
    sidecar = _Recording(_redirect_to(lambda: holder[0].url, "/status-moved"))
    holder.append(sidecar)
    switch = RemoteSwitch(sidecar.url, token="remote-s3cret", environ={}, interval=60)
    try:
        assert switch.poll() is True
        assert sidecar.seen == ["Bearer remote-s3cret"] * 2  # the status path, then where it moved
    finally:
        switch.close()
        sidecar.stop()


def test_the_status_wire_reads_back_what_the_sidecar_writes() -> None:
    expires = datetime.now(timezone.utc) + timedelta(minutes=5)
    body = status_wire.encode(SwitchState(True, "api", expires), active=[], files=[], files_total=0,
                              debug_dir="/d", write_errors=[{"pid": 7, "errors": 2, "failing": True}],
                              export_errors=[{"pid": 8, "errors": 0}])
    assert tuple(body) == status_wire.KEYS
    assert body[status_wire.WRITE_ERRORS] == [{"pid": 7, "count": 2, "failing": True, "last_error": None,
                                               "updated_at": None}]
    assert body[status_wire.EXPORT_ERRORS] == []  # a report without errors is no failure
    answer = status_wire.decode(json.loads(json.dumps(body)))
    assert answer.enabled is True and 290 < answer.remaining_seconds <= 300
    off = status_wire.encode(SwitchState(False, None, None), active=[], files=[], files_total=0, debug_dir="/d")
    assert status_wire.decode(off) == status_wire.SwitchAnswer(False, None)


@pytest.mark.parametrize("answer", [[], "on", {}, {"debug_enabled": "yes"}, {"debug_enabled": 1},
                                    {"debug_enabled": True, "remaining_seconds": "300"},
                                    {"debug_enabled": True, "remaining_seconds": True}])
def test_anything_but_a_status_answer_is_refused(answer: object) -> None:
    with pytest.raises(ValueError):
        status_wire.decode(answer)

