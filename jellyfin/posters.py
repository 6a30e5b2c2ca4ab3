"""Where the worker saves posters: ``output_dir/{item_id}.png``, and nowhere else.

An item id comes from whoever picked the batch (a caller, a file), so it is
checked before any request is made: one that is not a plain file name (a
path separator, ``.``/``..``, a NUL, an absolute path) fails the item. The
file is written without following a link already sitting at its name.
"""

from __future__ import annotations

import os
from pathlib import Path

from .bounds import ItemFailure


def check_item_id(output_dir: Path | None, item_id: str) -> None:
    """ItemFailure when a poster of ``item_id`` could not be saved inside ``output_dir``."""
    if output_dir is None:
        return
    plain = (item_id not in ("", ".", "..") and not os.path.isabs(item_id)
             and not any(c in item_id for c in ("/", "\\", "\0")))
    if not plain:
        raise ItemFailure(None, f"item id {item_id[:140]!r} is not a plain file name; refusing to save its poster "
                                f"outside {output_dir}")


def save_poster(output_dir: Path | None, item_id: str, status: int, content: bytes) -> None:
    """Write the poster as ``output_dir/{item_id}.png``: never through a link, never outside the folder."""
    if output_dir is None:
        return
    check_item_id(output_dir, item_id)
    target = output_dir / f"{item_id}.png"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with open(os.open(target, flags, 0o644), "wb") as handle:
            handle.write(content)
    except OSError as exc:
        raise ItemFailure(status, f"could not save the poster as {target}: {type(exc).__name__}: {exc}") from exc
