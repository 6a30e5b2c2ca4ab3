"""Shared pieces of the simulator shape tests (import with ``from shape_helpers import ...``)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from batch_debug.jellyfin.images import PNG_SIGNATURE
from batch_debug.jellyfin.shapes import Shapes
from batch_debug.jellyfin.simulator import JellyfinSimulator

KEY = "sim-api-key"
MIB = 1 << 20
PRESETS: dict[str, dict[str, Any]] = {
    "proxy-outage": {"proxy_outage": (10, 20)},
    "sign-in-page": {"sign_in_page": (10, 20)},
    "key-revoked": {"revoke_key_after": 12},
    "body-stall": {"body_stall_every": 7, "stall_seconds": 3.0},
    "body-drop": {"body_drop_every": 7},
    "headers-stall": {"headers_stall_every": 9, "stall_seconds": 3.0},
    "redirects": {"redirect_images": True},
    "large-images": {"image_bytes": 5 * MIB},
    "slow-images": {"image_bytes": 5 * MIB, "image_rate": MIB},
    "dies-mid-job": {"die_after": 30},
    "legacy-auth": {"legacy_auth_only": True},
    "connection-close": {"connection_close": True},
    "idle-drops": {"idle_drop_every": 5},
}


@contextmanager
def shaped(timeout: float = 2.0, profile: str = "healthy",
           **shape_args: Any) -> Iterator[tuple[JellyfinSimulator, httpx.Client]]:
    """A started simulator with ``Shapes(**shape_args)`` and an httpx client on it."""
    with JellyfinSimulator(profile=profile, api_key=KEY, shapes=Shapes(**shape_args)) as sim, \
            httpx.Client(base_url=sim.url, timeout=timeout) as client:
        yield sim, client


def image_path(item_id: str) -> str:
    return f"/Items/{item_id}/Images/Primary"


def outcome(call: Callable[[], httpx.Response]) -> int | str:
    """The status code, or the name of the exception the client raised."""
    try:
        return call().status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


def seen(sim: JellyfinSimulator) -> list[tuple[Any, Any, Any]]:
    return [(r["status"], r["fault"], r["seq"]) for r in sim.stats()["requests"]]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        pos += 12 + length
    return chunks
