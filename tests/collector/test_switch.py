"""The debug switch: env var, enable/disable, expiry, sharing between processes.

Time is a :class:`FakeClock` the tests move on: no test sleeps or measures a duration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from batch_debug.collector.switch import REFRESH_SECONDS, STATE_FILENAME, DebugSwitch


class FakeClock:
    """Wall and monotonic time that move only when the test says so.

    The wall clock starts at the real time: the file system stamps the state
    file's mtime with it, and the switch compares the two (``_deskew``).
    """

    def __init__(self) -> None:
        self.wall = time.time()
        self.mono = 1000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall, timezone.utc)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def _switch(folder: Path, clock: FakeClock, **kwargs) -> DebugSwitch:
    return DebugSwitch(folder, environ={}, clock=clock.time, monotonic=clock.monotonic, **kwargs)


def _write_state(folder: Path, clock: FakeClock, **state) -> None:
    """A state file as another process would leave it, stamped with the fake clock's time."""
    path = folder / STATE_FILENAME
    path.write_text(json.dumps({"enabled": True, "source": "api", **state}))
    os.utime(path, (clock.wall, clock.wall))


def test_off_by_default(tmp_path: Path) -> None:
    switch = DebugSwitch(tmp_path, environ={})
    assert switch.is_on() is False
    assert switch.state().to_dict() == {"enabled": False, "source": None, "expires_at": None,
                                        "remaining_seconds": None}


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "On", " on "])
def test_env_var_turns_debug_on_for_the_process(tmp_path: Path, value: str) -> None:
    switch = DebugSwitch(tmp_path, environ={"APHRODITE_BATCH_DEBUG": value})
    assert switch.is_on()
    assert switch.state().source == "env"


@pytest.mark.parametrize("value", ["false", "0", "", "no", "maybe"])
def test_env_var_falsy_values_leave_debug_off(tmp_path: Path, value: str) -> None:
    assert not DebugSwitch(tmp_path, environ={"APHRODITE_BATCH_DEBUG": value}).is_on()


@pytest.mark.parametrize("minutes", [1, 29, 59, 60, 61, 90, 1439, 1440])
def test_enable_sets_expiry_now_plus_duration(tmp_path: Path, minutes: int) -> None:
    clock = FakeClock()
    state = _switch(tmp_path, clock).enable(minutes)
    assert state.enabled and state.source == "api"
    assert state.expires_at == clock.now() + timedelta(minutes=minutes)
    assert state.expires_at.tzinfo is not None
    assert state.to_dict(clock.now())["remaining_seconds"] == minutes * 60


@pytest.mark.parametrize("bad", [0, -5, 1441, "30", 2.5, True, None])
def test_enable_rejects_bad_durations_with_a_sentence(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="duration_minutes must be"):
        DebugSwitch(tmp_path, environ={}).enable(bad)  # type: ignore[arg-type]
    assert not (tmp_path / STATE_FILENAME).exists()


def test_disable_turns_off_and_enable_again_turns_on(tmp_path: Path) -> None:
    switch = DebugSwitch(tmp_path, environ={})
    switch.enable(10)
    assert switch.is_on()
    assert switch.disable().enabled is False
    assert not switch.is_on()
    switch.enable(10)
    assert switch.is_on()


def test_enable_while_on_keeps_the_later_expiry(tmp_path: Path) -> None:
    switch = DebugSwitch(tmp_path, environ={})
    long = switch.enable(120).expires_at
    assert switch.enable(5).expires_at == long
    assert switch.enable(240).expires_at > long


def test_switch_expires_without_any_thread(tmp_path: Path) -> None:
    clock = FakeClock()
    _write_state(tmp_path, clock, expires_at=(clock.now() + timedelta(seconds=0.8)).isoformat())
    switch = _switch(tmp_path, clock)
    assert switch.is_on()
    clock.advance(0.7)
    assert switch.is_on()
    clock.advance(0.2)
    assert not switch.is_on()
    assert switch.state().enabled is False


def test_a_change_by_another_switch_is_seen_after_one_refresh_interval(tmp_path: Path) -> None:
    """Between refreshes ``is_on`` answers from memory; the next look at the file sees the change."""
    clock = FakeClock()
    reader, writer = _switch(tmp_path, clock), _switch(tmp_path, clock)
    assert not reader.is_on()  # looked at the (missing) file, cached "off"
    writer.enable(5)
    clock.advance(REFRESH_SECONDS / 2)
    assert not reader.is_on()
    clock.advance(REFRESH_SECONDS / 2)
    assert reader.is_on()
    writer.disable()
    assert reader.is_on()
    clock.advance(REFRESH_SECONDS)
    assert not reader.is_on()


@pytest.mark.parametrize("content", ["{not json", "", "[]", '{"enabled": true, "expires_at": "garbage"}'])
def test_damaged_state_file_means_off(tmp_path: Path, content: str) -> None:
    (tmp_path / STATE_FILENAME).write_text(content)
    assert DebugSwitch(tmp_path, environ={}).is_on() is False


def test_state_file_write_leaves_no_temp_files(tmp_path: Path) -> None:
    switch = DebugSwitch(tmp_path, environ={})
    for _ in range(5):
        switch.enable(5)
        switch.disable()
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILENAME]


_WATCHER = """
import sys, time
from batch_debug.collector.switch import DebugSwitch
switch = DebugSwitch(sys.argv[1], environ={})
print("ready", switch.is_on(), flush=True)
deadline = time.monotonic() + 20
while not switch.is_on():
    if time.monotonic() > deadline:
        print("timeout", flush=True); sys.exit(1)
    time.sleep(0.01)
print("on", flush=True)
"""


def test_enable_reaches_other_process(tmp_path: Path) -> None:
    """How soon is the in-process test above; this one shows the file really carries it across."""
    watcher = subprocess.Popen([sys.executable, "-c", _WATCHER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout.readline().strip() == "ready False"  # it has cached "off"
        DebugSwitch(tmp_path, environ={}).enable(5)
        assert watcher.stdout.readline().strip() == "on"
    finally:
        watcher.kill()
        watcher.wait()


def test_disable_in_other_process_is_seen_at_the_next_refresh(tmp_path: Path) -> None:
    clock = FakeClock()
    switch = _switch(tmp_path, clock)
    switch.enable(5)
    assert switch.is_on()
    subprocess.run([sys.executable, "-c",
                    f"from batch_debug.collector.switch import DebugSwitch; DebugSwitch({str(tmp_path)!r}, environ={{}}).disable()"],
                   check=True)
    clock.advance(REFRESH_SECONDS)
    assert not switch.is_on()


@pytest.mark.parametrize("skew_seconds", [-8, -3, 3, 8])
def test_expiry_is_right_when_the_writer_clock_was_off(tmp_path: Path, skew_seconds: int) -> None:
    """A writer whose clock is off by a few seconds still gives the expiry it meant."""
    clock = FakeClock()
    writer_now = clock.now() + timedelta(seconds=skew_seconds)
    _write_state(tmp_path, clock, updated_at=writer_now.isoformat(),
                 expires_at=(writer_now + timedelta(seconds=2)).isoformat())
    switch = _switch(tmp_path, clock)
    remaining = (switch.state().expires_at - clock.now()).total_seconds()
    assert remaining == pytest.approx(2.0, abs=0.01)
    clock.advance(1.9)
    assert switch.is_on()
    clock.advance(0.2)
    assert not switch.is_on()


def test_disable_wins_over_a_pending_expiry(tmp_path: Path) -> None:
    clock = FakeClock()
    first, second = _switch(tmp_path, clock), _switch(tmp_path, clock)
    first.enable(60)
    assert second.is_on()
    first.disable()
    clock.advance(REFRESH_SECONDS)
    assert not second.is_on()
    assert second.state().expires_at is None


def test_readers_on_many_threads_never_see_a_half_updated_state(tmp_path: Path) -> None:
    """Threads that first look at a fresh switch together must all see "on" (a race once read "off")."""
    import threading

    DebugSwitch(tmp_path, environ={}).enable(30)
    seen_off = []
    for _ in range(100):
        switch = DebugSwitch(tmp_path, environ={})
        start = threading.Barrier(6)

        def read() -> None:
            start.wait()
            for _ in range(50):
                if not switch.is_on():
                    seen_off.append(1)

        threads = [threading.Thread(target=read) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert seen_off == []
