"""The one scheduler: eval episodes, filter checks, synth stages and Ray work all run through ``run``.

    engine.run(items, work, backend=ThreadBackend(), on_done=..., window=4,
               retries=Retries(2), retryable=..., deadline=600, on_deadline=...)

``work(item)`` runs on the backend (a thread here, a Ray task elsewhere); ``on_done``
is called in the calling thread as each item ends, so whoever writes the run log is
the only writer.  The engine knows nothing of episodes, sandboxes or models: clients
bring the item type, the work, the order (a ``Queue``), what counts as retryable and
what an item that missed its deadline records.  Backends are handed in, never
imported here, so the engine has no dependency on Ray.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
POLL_SECONDS = 0.5  # how often deadlines and the stop flag are looked at when nothing finishes


class Backend(Protocol):
    """Where work runs.  ``submit`` returns a handle; ``wait`` returns the handles that ended, with
    ``(value, error)``; ``cancel`` stops one if the backend can (a thread cannot be stopped)."""

    name: str

    def submit(self, work: Callable[[Any], Any], item: Any) -> Hashable: ...

    def wait(self, handles: Sequence[Hashable], timeout: float) -> list[tuple[Hashable, Any, BaseException | None]]:
        ...

    def cancel(self, handle: Hashable) -> None: ...


class ThreadBackend:
    """One daemon thread per item: a worker stuck past its deadline (say, in a model call) must not keep
    the process alive, and the scheduler must not wait for it."""

    name = "threads"

    def __init__(self, thread_name: str = "dsgym-work") -> None:
        self._ended: queue.SimpleQueue[tuple[int, Any, BaseException | None]] = queue.SimpleQueue()
        self._ids = itertools.count()
        self._thread_name = thread_name

    def submit(self, work: Callable[[Any], Any], item: Any) -> int:
        handle = next(self._ids)

        def target() -> None:
            try:
                self._ended.put((handle, work(item), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the scheduler, which decides
                self._ended.put((handle, None, exc))

        threading.Thread(target=target, name=f"{self._thread_name}-{handle}", daemon=True).start()
        return handle

    def wait(self, handles: Sequence[Hashable], timeout: float) -> list[tuple[Hashable, Any, BaseException | None]]:
        wanted = set(handles)
        out = []
        try:
            entry = self._ended.get(timeout=max(0.0, timeout))
            while True:  # take every result that is in before the scheduler looks at deadlines
                if entry[0] in wanted:
                    out.append(entry)
                entry = self._ended.get_nowait()
        except queue.Empty:
            pass
        return out

    def cancel(self, handle: Hashable) -> None:
        """Threads cannot be stopped from outside; clients end their work through ``on_deadline``."""


class Queue(Protocol[T]):
    """What waits to start, in the client's order: ``take`` the next item to start now (or None)."""

    def __bool__(self) -> bool: ...

    def take(self, running: Sequence[T]) -> T | None: ...


class Fifo(Generic[T]):
    """Items in the order given."""

    def __init__(self, items: Iterable[T]) -> None:
        self.items = deque(items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def take(self, running: Sequence[T]) -> T | None:
        return self.items.popleft() if self.items else None


class Lanes(Generic[T]):
    """Items in lanes with their own limits (say, model calls and sandboxes), started in the order given
    while their lane has room: two kinds of work share one scheduler without one starving the other."""

    def __init__(self, items: Iterable[T], lane: Callable[[T], str], limits: dict[str, int | None]) -> None:
        self.lane, self.limits = lane, limits
        self.items = list(items)
        self._next = {name: 0 for name in limits}
        self._by_lane: dict[str, list[int]] = {name: [] for name in limits}
        for index, item in enumerate(self.items):
            self._by_lane[lane(item)].append(index)
        self.left = len(self.items)

    def __bool__(self) -> bool:
        return self.left > 0

    def take(self, running: Sequence[T]) -> T | None:
        busy: dict[str, int] = {}
        for item in running:
            busy[self.lane(item)] = busy.get(self.lane(item), 0) + 1
        heads = []
        for name, indices in self._by_lane.items():
            limit = self.limits[name]
            if self._next[name] < len(indices) and (limit is None or busy.get(name, 0) < limit):
                heads.append((indices[self._next[name]], name))
        if not heads:
            return None
        index, name = min(heads)
        self._next[name] += 1
        self.left -= 1
        return self.items[index]


@dataclass(frozen=True)
class Retries:
    """Retries of failures that may heal (a sandbox, a model endpoint): ``backoff * 2**(n-1)`` s before retry n."""

    retries: int = 2
    backoff: float = 2.0
    max_backoff: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


@dataclass
class _Flight:
    item: Any
    attempt: int
    deadline: float | None
    last: Any = None  # the result of the attempt before a pending retry


def run(items: Iterable[T] | Queue[T], work: Callable[[T], R], *, backend: Backend,
        on_done: Callable[[T, R | None, BaseException | None], None], window: int = 1,
        retries: Retries | None = None, retryable: Callable[[T, R], bool] | None = None,
        on_retry: Callable[[T, R], None] | None = None, deadline: float | None = None,
        on_deadline: Callable[[T], R] | None = None, on_start: Callable[[T, int], None] | None = None,
        stop: threading.Event | None = None, on_abort: Callable[[list[T], BaseException], None] | None = None,
        ) -> None:
    """Run every item (at most ``window`` at once) and hand each result to ``on_done`` in this thread.

    - ``retries``/``retryable``: a result ``retryable(item, value)`` is run again after the
      policy's backoff (``on_retry(item, value)`` as the retry starts), within the item's deadline;
    - ``deadline``: seconds per item from its first start, retries included; at the deadline
      the engine stops waiting, cancels the work on the backend and records
      ``on_deadline(item)`` (required with a deadline);
    - ``on_start(item, in_flight)``: called as an item starts (``in_flight`` counts it);
    - ``stop``: once set, nothing new starts; work in flight still ends and is recorded;
    - an exception from ``on_done`` (or Ctrl-C) cancels what is in flight, calls
      ``on_abort(items_in_flight, exc)`` and propagates.
    """
    if deadline is not None and (deadline <= 0 or on_deadline is None):
        raise ValueError("a deadline must be positive and needs on_deadline")
    waiting: Queue[T] = items if hasattr(items, "take") else Fifo(items)  # type: ignore[assignment]
    inflight: dict[Hashable, _Flight] = {}
    delayed: list[tuple[float, int, _Flight]] = []  # retries waiting out their backoff
    order = itertools.count()
    stopped = stop or threading.Event()

    def start(flight: _Flight) -> None:
        inflight[backend.submit(work, flight.item)] = flight
        if on_start is not None and flight.attempt == 1:
            on_start(flight.item, len(inflight))

    try:
        while True:
            now = time.monotonic()
            while len(inflight) < max(1, window) and not stopped.is_set():
                if delayed and delayed[0][0] <= now:
                    flight = heapq.heappop(delayed)[2]
                    if on_retry is not None:
                        on_retry(flight.item, flight.last)
                    start(flight)
                    continue
                item = waiting.take([f.item for f in inflight.values()])
                if item is None:
                    break
                start(_Flight(item, 1, now + deadline if deadline else None))
            if not inflight and not delayed and (stopped.is_set() or not waiting):
                return
            wake = [now + POLL_SECONDS]
            wake += [f.deadline for f in inflight.values() if f.deadline is not None]
            wake += [delayed[0][0]] if delayed else []
            for handle, value, error in backend.wait(list(inflight), max(0.0, min(wake) - now)):
                flight = inflight.pop(handle)
                if error is None and retries is not None and retryable is not None \
                        and flight.attempt <= retries.retries and not stopped.is_set() and retryable(flight.item, value):
                    pause = retries.delay(flight.attempt)
                    if flight.deadline is None or time.monotonic() + pause < flight.deadline:
                        flight.attempt, flight.last = flight.attempt + 1, value
                        heapq.heappush(delayed, (time.monotonic() + pause, next(order), flight))
                        continue
                on_done(flight.item, value, error)
            now = time.monotonic()
            for handle, flight in list(inflight.items()):
                if flight.deadline is not None and now >= flight.deadline:
                    del inflight[handle]
                    backend.cancel(handle)
                    on_done(flight.item, on_deadline(flight.item), None)  # type: ignore[misc]
            while stopped.is_set() and delayed:  # nothing new starts: a pending retry ends with its last result
                flight = heapq.heappop(delayed)[2]
                on_done(flight.item, flight.last, None)
    except BaseException as exc:
        for handle in inflight:
            backend.cancel(handle)
        if on_abort is not None:
            on_abort([f.item for f in inflight.values()], exc)
        raise
