"""Fixtures for the simulator's own tests: one seeded healthy simulator and an httpx client for it.

``sim`` here replaces the suite-wide one (``tests/conftest.py``) for this folder: the simulator's
tests need a fixed seed and their own key (``sim_helpers.KEY``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from batch_debug.jellyfin.simulator import JellyfinSimulator
from sim_helpers import KEY


@pytest.fixture
def sim() -> Iterator[JellyfinSimulator]:
    with JellyfinSimulator(profile="healthy", seed=42, api_key=KEY) as server:
        yield server


@pytest.fixture
def client(sim: JellyfinSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c
