"""Helpers for the simulator's own tests (``test_simulator*.py``): the key and image requests."""

from __future__ import annotations

import httpx

KEY = "sim-api-key"


def image(client: httpx.Client, item_id: str) -> httpx.Response:
    return client.get(f"/Items/{item_id}/Images/Primary")


def statuses_until_ok(client: httpx.Client, item_id: str, tries: int = 3) -> list[int]:
    """The status of each image request for ``item_id`` until a 200 (at most ``tries``)."""
    statuses: list[int] = []
    for _ in range(tries):
        statuses.append(image(client, item_id).status_code)
        if statuses[-1] == 200:
            break
    return statuses
