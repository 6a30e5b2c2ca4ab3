"""Deterministic library content for the Jellyfin simulator: items and posters.

Contract:

- ``poster_png(seed, item_id) -> bytes``: a small, valid PNG (8-bit RGB,
  120x180, a few KB) whose pixels depend only on ``(seed, item_id)``. Results
  are cached, so repeated requests cost nothing and return identical bytes
  (clients can compare downloads byte for byte).
- ``poster(seed, item_id, size=None) -> bytes``: ``poster_png`` when ``size``
  is None, else ``sized_poster``.
- ``sized_poster(seed, item_id, size) -> bytes``: a valid PNG of exactly
  ``size`` bytes (at least ``MIN_SIZED_POSTER``): a palette image whose
  colours and text comment depend on the item, padded by a private ancillary
  chunk of seeded random bytes that is built once per ``(seed, size)``, so a
  5 MiB poster costs one copy per request and nothing to render.
- ``Catalog(seed, item_count)``: ``item_ids`` (32 lowercase hex, stable for a
  seed), ``index`` (id -> position), ``user_id``, ``server_id``,
  ``item_json(item_id)`` (the Jellyfin ``BaseItemDto`` subset clients read)
  and ``demo_ids(n, seed, broken)`` (a realistic mix of good and bad ids).

Only the stdlib is used (``zlib`` + ``struct``): the simulator must run with no
extra dependencies.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import struct
import uuid
import zlib
from typing import Any

logger = logging.getLogger(__name__)

WIDTH = 120
HEIGHT = 180
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Malformed ids a real batch meets: typos, numeric database ids, half GUIDs.
MALFORMED_IDS = ("not-a-guid", "12345", "poster-0042", "abc", "0123456789abcdef", "z" * 32)
MIN_SIZED_POSTER = 1024
_PAD_CHUNK = b"prVt"  # ancillary, private, safe to copy: viewers skip it
_WORDS_A = ("Silent", "Crimson", "Last", "Hidden", "Frozen", "Golden", "Broken", "Midnight", "Distant", "Electric")
_WORDS_B = ("Harbor", "Empire", "Garden", "Signal", "River", "Machine", "Frontier", "Orchard", "Tide", "Lantern")


def _chunk(kind: bytes, data: bytes) -> bytes:
    # Each PNG chunk: length, type, data, CRC over type+data.
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (int(a[0] + (b[0] - a[0]) * t), int(a[1] + (b[1] - a[1]) * t), int(a[2] + (b[2] - a[2]) * t))


def _render_rows(digest: bytes) -> bytes:
    """Raw scanlines (filter byte 0 + RGB) of a poster-like picture.

    A vertical gradient, a "title band" near the bottom and a disc, all in
    colours taken from the digest, plus a sparse speckle so the file is a few
    KB rather than a few hundred bytes (closer to a real poster download).
    """
    top = (digest[0], digest[1], digest[2])
    bottom = (digest[3] // 3, digest[4] // 3, digest[5] // 3)
    band = (digest[6], digest[7], digest[8])
    disc = (digest[9], digest[10], digest[11])
    cx = 20 + digest[12] % (WIDTH - 40)
    cy = 30 + digest[13] % (HEIGHT // 2)
    radius = 12 + digest[14] % 24
    # A tiny LCG seeded from the digest gives deterministic speckle without
    # pulling in random's global state.
    state = int.from_bytes(digest[16:24], "big") | 1
    rows = bytearray()
    for y in range(HEIGHT):
        rows.append(0)  # filter type "None"
        base = _mix(top, bottom, y / (HEIGHT - 1))
        in_band = HEIGHT - 44 <= y < HEIGHT - 16
        for x in range(WIDTH):
            if in_band and 8 <= x < WIDTH - 8:
                pixel = band
            elif (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius:
                pixel = disc
            else:
                pixel = base
            state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            if (state >> 60) == 0:  # ~1 pixel in 16 gets a little noise
                jitter = (state >> 32) & 0x1F
                pixel = ((pixel[0] + jitter) & 0xFF, (pixel[1] + jitter) & 0xFF, (pixel[2] + jitter) & 0xFF)
            rows += bytes(pixel)
    return bytes(rows)


@functools.lru_cache(maxsize=4096)
def poster_png(seed: int, item_id: str) -> bytes:
    """Return the PNG poster for ``item_id`` under ``seed`` (cached, thread-safe to call)."""
    digest = hashlib.sha256(f"batch-debug-sim|{seed}|poster|{item_id}".encode()).digest()
    ihdr = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit truecolour RGB
    idat = zlib.compress(_render_rows(digest), 9)
    png = PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    logger.debug("rendered poster for %s (%d bytes)", item_id, len(png))
    return png


@functools.lru_cache(maxsize=1)
def _palette_idat() -> bytes:
    """The pixels of every sized poster (palette indices; the colours come from the item)."""
    rows = bytearray()
    for y in range(HEIGHT):
        rows.append(0)
        for x in range(WIDTH):
            if HEIGHT - 44 <= y < HEIGHT - 16 and 8 <= x < WIDTH - 8:
                rows.append(2)  # title band
            elif (x - WIDTH // 2) ** 2 + (y - HEIGHT // 3) ** 2 <= 28 * 28:
                rows.append(3)  # disc
            else:
                rows.append(0 if y < HEIGHT // 2 else 1)
    return _chunk(b"IDAT", zlib.compress(bytes(rows), 9))


def _item_head(seed: int, item_id: str) -> bytes:
    """Signature, header, the item's palette and comment, then the shared pixels."""
    digest = hashlib.sha256(f"batch-debug-sim|{seed}|poster|{item_id}".encode()).digest()
    ihdr = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 3, 0, 0, 0)  # 8-bit palette
    comment = b"Comment\0batch-debug-sim poster " + item_id.encode()
    return (PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"PLTE", digest[:12]) + _chunk(b"tEXt", comment)
            + _palette_idat())


@functools.lru_cache(maxsize=4)
def _padding(seed: int, length: int) -> bytes:
    """The private padding chunk carrying ``length`` seeded random bytes (built once per size)."""
    return _chunk(_PAD_CHUNK, random.Random(f"batch-debug-sim|{seed}|padding").randbytes(length))


@functools.lru_cache(maxsize=8)  # retries of the same item are free; 8 x 5 MiB at most
def sized_poster(seed: int, item_id: str, size: int) -> bytes:
    """A valid PNG poster of exactly ``size`` bytes for ``item_id`` under ``seed``."""
    head = _item_head(seed, item_id)
    pad = size - len(head) - 12 - len(_chunk(b"IEND", b""))  # 12: the padding chunk's length, type and CRC
    if size < MIN_SIZED_POSTER or pad < 0:
        raise ValueError(f"A sized poster needs at least {MIN_SIZED_POSTER} bytes, not {size}.")
    return b"".join((head, _padding(seed, pad), _chunk(b"IEND", b"")))


def poster(seed: int, item_id: str, size: int | None = None) -> bytes:
    """The poster body the simulator serves: the rendered PNG, or a sized one."""
    return poster_png(seed, item_id) if size is None else sized_poster(seed, item_id, size)


def hex_id(seed: int, *parts: object) -> str:
    """A 32-hex GUID that depends only on the seed and the parts."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "|".join(["batch-debug-sim", str(seed), *map(str, parts)])).hex


class Catalog:
    """The simulated library: a fixed list of movies derived from the seed."""

    def __init__(self, seed: int, item_count: int) -> None:
        if item_count < 1:
            raise ValueError("item_count must be at least 1.")
        self.seed = seed
        self.item_ids = [hex_id(seed, "item", i) for i in range(item_count)]
        self.index = {item_id: i for i, item_id in enumerate(self.item_ids)}
        self.user_id = hex_id(seed, "user")
        self.server_id = hex_id(seed, "server")

    def item_json(self, item_id: str) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}|{item_id}")
        return {"Name": f"The {rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}", "ServerId": self.server_id,
                "Id": item_id, "Type": "Movie", "IsFolder": False, "MediaType": "Video",
                "ProductionYear": 1950 + rng.randrange(75), "RunTimeTicks": rng.randrange(80, 180) * 600_000_000,
                "CommunityRating": round(rng.uniform(4.0, 9.5), 1), "IndexNumber": self.index[item_id],
                "ImageTags": {"Primary": hex_id(self.seed, "tag", item_id)}}

    def demo_ids(self, n: int, seed: int, broken: list[str]) -> list[str]:
        """~80% known, ~10% unknown (404), ~10% malformed (400) ids, shuffled, deterministic.

        With n >= 5 there is at least one of each kind, and when ``broken`` is
        not empty at least one of those, so a demo shows every kind of failure.
        """
        if n < 0:
            raise ValueError("n must be zero or more.")
        rng = random.Random(f"demo|{seed}")
        malformed = unknown = round(n * 0.1)
        if n >= 5:
            malformed = unknown = max(1, malformed)
        known_n, pool = n - malformed - unknown, self.item_ids
        known = rng.sample(pool, known_n) if known_n <= len(pool) else [rng.choice(pool) for _ in range(known_n)]
        if broken and known and not set(known) & set(broken):
            known[0] = rng.choice(broken)
        unknown_ids: list[str] = []
        while len(unknown_ids) < unknown:
            candidate = f"{rng.getrandbits(128):032x}"
            if candidate not in self.index:
                unknown_ids.append(candidate)
        ids = known + unknown_ids + [rng.choice(MALFORMED_IDS) for _ in range(malformed)]
        rng.shuffle(ids)
        return ids
