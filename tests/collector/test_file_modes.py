"""Job, spool, progress and state files get the permission bits of APHRODITE_BATCH_DEBUG_FILE_MODE (default 0600);
the umask may narrow them, nothing widens them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider

from batch_debug.collector import attributes as A
from batch_debug.collector import config, jobfile, progress, spool
from batch_debug.collector.processor import JobFileWriter, JobSpanProcessor
from batch_debug.collector.switch import DebugSwitch
from batch_debug.collector.openjob import BATCH_SIZE


@pytest.fixture
def umask() -> Iterator[None]:
    saved = os.umask(0o022)
    os.umask(saved)
    yield
    os.umask(saved)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("setting,mask,expected", [
    (None, 0o022, 0o600),     # the default: owner only
    ("0640", 0o022, 0o640),   # the sidecar runs as another user of the same group
    ("0640", 0o077, 0o600),   # the umask narrows it
    ("0666", 0o002, 0o664),
    ("0777", 0o000, 0o600),   # not a file mode we take: logged, the default used
])
def test_every_file_in_the_folder_gets_the_configured_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           umask: None, setting: str | None, mask: int,
                                                           expected: int) -> None:
    if setting is None:
        monkeypatch.delenv(config.APHRODITE_BATCH_DEBUG_FILE_MODE, raising=False)
    else:
        monkeypatch.setenv(config.APHRODITE_BATCH_DEBUG_FILE_MODE, setting)
    os.umask(mask)
    monkeypatch.setattr(spool, "HOLD_BYTES", 0)  # the first batch goes to the spool files, to be looked at
    processor = JobSpanProcessor(JobFileWriter(tmp_path))
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("batch job", context=Context(), attributes={A.JOB_ID: "modes"}):
        for n in range(BATCH_SIZE + 1):  # past a batch: spooled to disk
            with tracer.start_as_current_span(f"step {n}"):
                pass
        assert processor.force_flush()
        progress_files = list((tmp_path / progress.ACTIVE_DIRNAME).glob("*.json"))
        spool_files = [p for p in tmp_path.iterdir() if p.name.endswith(jobfile.TEMP_SUFFIX)]
        assert len(progress_files) == 1 and len(spool_files) == 2
        assert [_mode(p) for p in progress_files + spool_files] == [expected] * 3
    assert processor.force_flush()
    job_file = jobfile.newest_for(tmp_path, "modes")
    assert job_file is not None and _mode(job_file) == expected
    assert _mode(jobfile.write_atomic(tmp_path, "direct", "{}")) == expected
    switch = DebugSwitch(tmp_path)
    switch.enable(5)  # the state file, which workers of another user must read
    assert _mode(switch.path) == expected
