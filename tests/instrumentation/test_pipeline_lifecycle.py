"""The pipeline's lifecycle: a second setup() says what it ignored, strict mode raises, reset() and
installed() put the process back as it was (the conftest runs every test in strict mode)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from batch_debug.collector import jobfile
from batch_debug.collector.switch import DebugSwitch
from batch_debug.instrumentation import pipeline as lifecycle
from batch_debug.instrumentation.pipeline import (
    Pipeline, SetupConflictError, build, current_pipeline, install, installed, reset, setup, switch_is_on,
)
from batch_debug.jellyfin.worker import WorkerConfig, run_job
from support import API_KEY, NO_WAIT

IGNORABLE = {
    "otlp_endpoint": {"otlp_endpoint": "http://127.0.0.1:9"},
    "processors": {"processors": [SimpleSpanProcessor(InMemorySpanExporter())]},
    "handle_sigterm": {"handle_sigterm": False},
    "set_global": {"set_global": False},
}


def _always_on(folder: Path) -> DebugSwitch:
    return DebugSwitch(folder, environ={"APHRODITE_BATCH_DEBUG": "true"})


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == lifecycle.__name__]


def _job(sim, job_id: str) -> Path | None:
    return run_job(WorkerConfig(server=sim.url, api_key=API_KEY, **NO_WAIT), sim.item_ids[:3], job_id).job_file


@pytest.mark.parametrize("name", sorted(IGNORABLE))
def test_a_second_setup_warns_naming_exactly_the_argument_it_ignored(name, default_pipeline: Pipeline, debug_dir,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        again = setup(debug_dir, strict=False, **IGNORABLE[name])
    assert again is default_pipeline and current_pipeline() is default_pipeline
    [message] = _warnings(caplog)
    assert [other for other in IGNORABLE if other in message] == [name]
    assert "ignored" in message
    assert again.directory == debug_dir  # the folder is still re-pointed: that much a second call can do


def test_the_warning_names_every_ignored_argument_and_nothing_else(default_pipeline: Pipeline,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    everything = {key: value for args in IGNORABLE.values() for key, value in args.items()}
    with caplog.at_level(logging.WARNING):
        setup(strict=False, **everything)
        setup(strict=False)  # defaults ask for nothing: no warning
        setup(strict=False, handle_sigterm=True, set_global=True)  # as the first call had them
    [message] = _warnings(caplog)
    assert sorted(name for name in IGNORABLE if name in message) == sorted(IGNORABLE)
    assert default_pipeline.settings["otlp_endpoint"] is None  # the first pipeline is kept as it was


def test_strict_setup_raises_and_changes_nothing(default_pipeline: Pipeline, debug_dir: Path) -> None:
    before = default_pipeline.directory
    with pytest.raises(SetupConflictError, match=r"again with otlp_endpoint unlike the first call"):
        setup(debug_dir, switch=_always_on(debug_dir), otlp_endpoint="http://127.0.0.1:9")
    assert current_pipeline() is default_pipeline and default_pipeline.directory == before
    assert not switch_is_on()


def test_reset_leaves_no_pipeline_and_debug_off(debug_dir: Path, sim) -> None:
    install(build(debug_dir, switch=_always_on(debug_dir)), handle_sigterm=True)
    assert switch_is_on() and HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    reset()
    assert current_pipeline() is None and not switch_is_on()
    assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    handler = signal.getsignal(signal.SIGTERM)
    assert getattr(handler, "__module__", None) != "batch_debug.instrumentation.sigterm"
    assert _job(sim, "after-reset") is None
    assert jobfile.list_job_files(debug_dir) == []


def test_installed_records_into_its_own_folder_and_restores_the_previous_pipeline(
        default_pipeline: Pipeline, recorded_spans: InMemorySpanExporter, debug_dir: Path, sim) -> None:
    recorded_spans.clear()
    with installed(debug_dir, switch=_always_on(debug_dir)) as inner:
        assert current_pipeline() is inner and switch_is_on()
        written = _job(sim, "inside")
    assert written is not None and written.parent == debug_dir
    assert recorded_spans.get_finished_spans() == ()  # the default provider saw none of it
    assert current_pipeline() is default_pipeline and not switch_is_on()
    assert _job(sim, "outside") is None
    assert [f.path for f in jobfile.list_job_files(debug_dir)] == [written]


def test_installed_restores_the_previous_pipeline_even_when_the_body_raises(default_pipeline: Pipeline,
                                                                           debug_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="the job failed"):
        with installed(debug_dir, switch=_always_on(debug_dir)) as inner:
            assert current_pipeline() is inner
            raise RuntimeError("the job failed")
    assert current_pipeline() is default_pipeline and not switch_is_on()
    assert HTTPXClientInstrumentor().is_instrumented_by_opentelemetry


def test_use_pipeline_after_reset_leaves_no_pipeline_again(debug_dir: Path) -> None:
    reset()
    other = build(debug_dir, switch=_always_on(debug_dir))
    with pytest.raises(ValueError):
        with lifecycle.use_pipeline(other):
            assert current_pipeline() is other and switch_is_on()
            raise ValueError("boom")
    assert current_pipeline() is None and not switch_is_on()
    other.shutdown()


def test_a_test_may_leave_the_pipeline_always_on_in_its_own_folder(tmp_path: Path) -> None:
    """What test_disk's unwritable-folder test does; the next test must not inherit it."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the debug folder should be")
    setup(blocked, switch=_always_on(blocked))
    assert switch_is_on()


def test_the_next_test_starts_on_the_default_pipeline_switched_off(default_pipeline: Pipeline) -> None:
    """Whichever test ran before (in file order, the one above): the conftest put everything back."""
    assert current_pipeline() is default_pipeline and not switch_is_on()
    assert default_pipeline.directory.is_dir() and list(default_pipeline.directory.iterdir()) == []
    assert default_pipeline.secrets == []
