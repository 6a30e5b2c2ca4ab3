"""A batch job with nothing in it but its own code and job/item spans.

Run it the zero-code way (the SDK builds everything from otel-config.yaml)::

    OTEL_CONFIG_FILE=otel-config.yaml opentelemetry-instrument python examples/poster_job.py \
        http://jellyfin:8096 API_KEY job-1 ITEM_ID...

or with ``setup()`` first (what ``batch-debug run-job`` does)::

    python -c "from batch_debug.instrumentation import setup; setup(); import runpy, sys; \
sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')" examples/poster_job.py ...

Either way, with debug on, the job file is the same. For each item: look it
up (authenticated), probe the poster with HEAD, download it; 5xx and network
errors are tried once more.
"""

from __future__ import annotations

import sys

import httpx

from batch_debug.instrumentation import item_span, job_span


def fetch(client: httpx.Client, method: str, path: str) -> httpx.Response | None:
    """Up to two attempts; None when both fail on the network."""
    for attempt in (1, 2):
        try:
            response = client.request(method, path)
        except httpx.TransportError:
            if attempt == 2:
                return None
            continue
        if response.status_code < 500 or attempt == 2:
            return response
    return None


def main(server: str, api_key: str, job_id: str, item_ids: list[str]) -> int:
    failed = 0
    headers = {"Authorization": f'MediaBrowser Client="poster-job", Token="{api_key}"'}
    with job_span(job_id, items_total=len(item_ids)):
        with httpx.Client(base_url=server, headers=headers, timeout=10) as client:
            for item_id in item_ids:
                with item_span(item_id) as item:
                    for method, path in (("GET", f"/Items/{item_id}"), ("HEAD", f"/Items/{item_id}/Images/Primary"),
                                         ("GET", f"/Items/{item_id}/Images/Primary")):
                        response = fetch(client, method, path)
                        if response is None or response.status_code >= 400:
                            failed += 1
                            item.fail(f"HTTP {response.status_code if response else 'error'} on {method} {path}")
                            break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
