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


def test_a_job_whose_client_is_not_traced_is_not_called_clean(debug_pipeline, sim) -> None:
    """urllib is no client batch-debug traces: the job's items ran, no request was seen, and the file says
    so instead of "No problems found"."""
    import urllib.request

    from batch_debug.collector import jobfile
    from batch_debug.instrumentation import item_span, job_span

    ids = sim.item_ids[:3]
    with job_span("untraced", items_total=len(ids)):
        for item_id in ids:
            with item_span(item_id):
                with urllib.request.urlopen(f"{sim.url}/Items/{item_id}/Images/Primary") as answer:
                    assert answer.status == 200
    path = debug_pipeline.job_file("untraced")
    assert path is not None
    summary = jobfile.load(path)["summary"]
    assert summary["total_requests"] == 0 and summary["items_succeeded"] == 3
    assert [f["id"] for f in summary["findings"]] == ["no_requests_recorded"]
    assert summary["recommendations"][0].startswith("3 items ran and the job recorded no HTTP request")
