"""A warm pool: sandboxes started ahead of time so that ``reset`` only hands one over.

A pooled sandbox is fresh (its kernel has run nothing) and serves one episode:
``acquire`` removes it from the pool for good and a background thread starts a
replacement.  If the pool is empty, ``acquire`` starts one on the spot.

``starters`` threads start sandboxes side by side, so refilling a pool after a
group of N episodes (RL's group resets) takes about N/starters container starts,
not N.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from dsgym.sandbox.base import Sandbox

log = logging.getLogger(__name__)


class SandboxPool:
    def __init__(self, factory: Callable[[], Sandbox], size: int = 2, start_timeout: float = 60.0,
                 starters: int = 1):
        if size < 1 or starters < 1:
            raise ValueError("a pool needs size >= 1 and starters >= 1")
        self.factory = factory
        self.size = size
        self.start_timeout = start_timeout
        self.last_error: Exception | None = None
        self._ready: queue.Queue[Sandbox] = queue.Queue()
        self._wanted = threading.Semaphore(size)
        self._closed = threading.Event()
        self._fillers = [threading.Thread(target=self._fill, name=f"dsgym-pool-{i}", daemon=True)
                         for i in range(min(starters, size))]
        for filler in self._fillers:
            filler.start()

    def _fill(self) -> None:
        while not self._closed.is_set():
            if not self._wanted.acquire(timeout=0.2):
                continue
            try:
                sandbox = self.factory()
                sandbox.start(self.start_timeout)
            except Exception as exc:  # noqa: BLE001 - kept for acquire() and retried after a pause
                self.last_error = exc
                log.warning("warm pool could not start a sandbox: %s", exc)
                self._wanted.release()
                self._closed.wait(2.0)
                continue
            if self._closed.is_set():
                sandbox.close()
                return
            self._ready.put(sandbox)

    def acquire(self) -> Sandbox:
        """A started, never-used sandbox (from the pool if one is ready)."""
        try:
            sandbox = self._ready.get_nowait()
        except queue.Empty:
            sandbox = self.factory()
            sandbox.start(self.start_timeout)
            return sandbox
        self._wanted.release()
        return sandbox

    def ready(self) -> int:
        return self._ready.qsize()

    def close(self) -> None:
        self._closed.set()
        for filler in self._fillers:
            filler.join(timeout=self.start_timeout + 5)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                self._ready.get_nowait().close()
            except queue.Empty:
                return

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
