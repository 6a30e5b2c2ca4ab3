"""A daemon thread that runs queued tasks one at a time, in order, and lets callers wait for them.

The writer's thread (``writer.JobFileWriter``): every task that touches the
disk runs here, so the threads that record spans never block on I/O. A task
that raises is logged with ``logger.exception`` and the thread goes on: one
failure must not stop the tasks behind it.

The thread starts on the first :meth:`TaskThread.call`, and again whenever
it is found not running (as in a forked child, which has no copy of it). :meth:`flush`
waits until every task queued so far has run; :meth:`close` drains the
queue and stops the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class TaskThread:
    """Runs ``call``-ed tasks on one daemon thread named ``name``. Thread-safe."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue()
        self._pending = 0  # tasks queued and not yet done
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def call(self, work: Callable[[], object]) -> None:
        """Queue ``work`` to run on the thread (started here if it does not run)."""
        with self._cond:
            self._pending += 1
        self._ensure_thread()
        self._queue.put(work)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            try:
                work()
            except Exception:  # noqa: BLE001 - the thread must survive anything
                logger.exception("batch-debug task on thread %s failed", self.name)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued task is done; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout``) for the queued tasks, then stop the thread."""
        self.flush(timeout)
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
