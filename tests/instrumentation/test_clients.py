"""Which HTTP clients ``setup()`` traces: httpx always, aiohttp and requests when their extras are installed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from batch_debug.dashboard.cli import main
from batch_debug.instrumentation import clients
from support import API_KEY


def test_the_dev_install_traces_all_three_clients() -> None:
    assert clients.instrumented_clients() == ("httpx", "aiohttp", "requests")


@pytest.mark.parametrize("client", ["aiohttp", "requests"])
def test_a_client_without_its_instrumentation_is_skipped_and_run_job_says_which_extra(
        client: str, monkeypatch: pytest.MonkeyPatch, sim) -> None:
    missing = f"opentelemetry.instrumentation.{'aiohttp_client' if client == 'aiohttp' else 'requests'}"
    real = clients._installed
    monkeypatch.setattr(clients, "_installed", lambda module: module != missing and real(module))
    assert client not in clients.instrumented_clients()
    done = CliRunner().invoke(main, ["run-job", "--server", sim.url, "--api-key", API_KEY, "--client", client,
                                     sim.item_ids[0]])
    assert done.exit_code == 1
    assert f"--client {client} needs {client} and its OpenTelemetry instrumentation: " \
           f"pip install 'batch-debug[{client}]'" in done.output


def test_async_is_httpx_async_and_goes_with_no_other_client(sim) -> None:
    done = CliRunner().invoke(main, ["run-job", "--server", sim.url, "--api-key", API_KEY, "--async",
                                     "--client", "requests", sim.item_ids[0]])
    assert done.exit_code == 2 and "--async means --client httpx-async, not requests" in done.output
