"""What a structure makes the garbage collector walk: its tracked objects, counted by reach."""

from __future__ import annotations

import gc
import types


def tracked_reachable(root: object) -> int:
    """Objects the garbage collector tracks among those reachable from ``root`` (after a pass): what a
    structure makes the collector walk, whatever other threads of the test process allocate meanwhile."""
    gc.collect()
    seen: set[int] = set()
    stack, count = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType)):
            continue  # the classes (and through them, the program) are not the structure's
        seen.add(id(obj))
        count += gc.is_tracked(obj)
        stack.extend(gc.get_referents(obj))
    return count
