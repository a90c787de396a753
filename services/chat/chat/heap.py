"""Keeping the garbage collector's full passes short while thousands of sockets are open.

Every open socket keeps about 170 container objects alive (the ASGI middleware chain's
coroutines and closures, the protocol, the request scope, ...). CPython's full
collection walks every tracked object: at 5,000 sockets that is close to a million
objects and a pause of several hundred milliseconds on a small machine, during which no
frame moves — the p99 of message delivery is that pause.

So, every ``interval`` seconds, while at least ``min_sockets`` sockets are open and new
ones arrived since the last time, the heap is frozen (``gc.freeze()``: everything alive
now moves to a generation the collector never walks). Frozen objects that die are still
freed by reference counting; only reference *cycles* among them (a few per closed
socket) wait. When more sockets have closed since freezing than are open (or
``min_sockets``, whichever is more), the heap is unfrozen, and it is not frozen again
before a full collection has reclaimed that garbage — one long pause then, instead of
one every time the young generations fill up.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Protocol

log = logging.getLogger("chat.heap")


class SocketCounts(Protocol):
    """What the policy reads of the connection registry."""

    opened_total: int
    closed_total: int

    def __len__(self) -> int: ...


def full_collections() -> int:
    """How many full (oldest-generation) collections this process has run."""
    return int(gc.get_stats()[2]["collections"])


class HeapFreezer:
    """The freeze/unfreeze policy above; :meth:`tick` is one decision."""

    def __init__(self, sockets: SocketCounts, *, interval: float, min_sockets: int) -> None:
        self._sockets = sockets
        self._interval = interval
        self._min_sockets = min_sockets
        self._frozen = False
        self._opened_mark = 0
        self._closed_mark = 0
        self._collections_at_unfreeze: int | None = None
        self._task: asyncio.Task[None] | None = None

    def tick(self) -> None:
        """Freeze, unfreeze or do nothing, from the socket counts."""
        sockets = self._sockets
        if self._frozen:
            closed = sockets.closed_total - self._closed_mark
            if closed > max(len(sockets), self._min_sockets):
                gc.unfreeze()
                self._frozen = False
                self._collections_at_unfreeze = full_collections()
                log.info("heap unfrozen", extra={"event": "chat.heap_unfrozen",
                                                 "closedSockets": closed})
                return
        if len(sockets) < self._min_sockets or sockets.opened_total == self._opened_mark:
            return
        if self._collections_at_unfreeze == full_collections():
            return  # the garbage let go at the last unfreeze is not reclaimed yet
        gc.freeze()
        if not self._frozen:
            self._frozen = True
            self._closed_mark = sockets.closed_total
        self._opened_mark = sockets.opened_total

    async def start(self) -> None:
        """Tick every ``interval`` seconds in the background (no-op when it is 0)."""
        if self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="chat-heap-freezer")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.tick()

    async def stop(self) -> None:
        """Stop ticking; the heap is left as it is (the process is ending)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
