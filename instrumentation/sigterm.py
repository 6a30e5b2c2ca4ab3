"""On SIGTERM, write the open jobs' files (marked incomplete), then let the signal do what it did before.

Usage (``pipeline`` does this; one handler per process whichever pipeline is current)::

    sigterm.install(lambda: current_processor)   # the processor is looked up when the signal comes
    sigterm.restore()                            # the handler that was there before, back

Only from the main thread (Python's rule), and never over a handler that
ignores the signal. The handler never raises: the process is stopping either way.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from ..collector.processor import JobSpanProcessor

logger = logging.getLogger(__name__)

_NOT_INSTALLED = object()
_previous: Any = _NOT_INSTALLED  # the handler ours replaced, while ours is installed


def install(processor: Callable[[], JobSpanProcessor | None]) -> bool:
    """Put our handler in front of the current one (once); True when ours is in place."""
    global _previous
    if threading.current_thread() is not threading.main_thread():
        return False
    if _previous is not _NOT_INSTALLED:
        return True
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_IGN, None):
        return False

    def on_sigterm(signum: int, frame: Any) -> None:
        try:
            current = processor()
            for path in current.write_unfinished(timeout=5.0) if current is not None else ():
                logger.warning("SIGTERM: wrote incomplete job file %s", path)
        except Exception:  # noqa: BLE001 - the process is stopping either way
            logger.exception("SIGTERM: could not write open jobs")
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    _previous = previous
    return True


def restore() -> None:
    """The handler ours replaced, back in place (main thread only; nothing when ours is not installed)."""
    global _previous
    if _previous is _NOT_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _previous)
    _previous = _NOT_INSTALLED
