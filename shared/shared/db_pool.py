"""The PostgreSQL connection pool of a service process: bounded, first come first served,
and counted for ``/metrics``.

It is SQLAlchemy's asyncio pool with two changes.

**Fairness.** SQLAlchemy waits on an ``asyncio.Queue``, which is not fair: a connection
coming back while requests wait goes to whoever asks next, often a request that just
arrived (or the one that returned it, asking again), and the waiter it woke finds the
queue empty and goes to the back of the line. With fewer connections than requests in
flight (the budget's share is 11 per process; the gateway forwards 32 at a time) some
requests starve until their checkout times out: ``bench/load_sequence.py`` measured p99
of 2-3 s and 503s on reads at c=32. Here a connection that comes back goes straight to
the longest waiter, and a newcomer queues behind those already waiting.

**Counting.** SQLAlchemy counts connections in use and idle, but not the checkouts
waiting for one, nor those that gave up: :class:`PoolCounters` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy.exc
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util.concurrency import await_only
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty


@dataclass
class PoolCounters:
    """Checkouts in progress now, and those that found no connection in time."""

    waiting: int = 0
    timeouts: int = 0


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of a pool, for ``/metrics``."""

    in_use: int
    idle: int
    overflow: int
    waiting: int
    limit: int
    timeouts: int


class FirstComeFirstServedQueue(AsyncAdaptedQueue[ConnectionPoolEntry]):
    """SQLAlchemy's asyncio queue of idle connections, handing each one that comes back
    to the longest waiter instead of to whoever asks next."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[ConnectionPoolEntry]] = deque()

    def put_nowait(self, item: ConnectionPoolEntry) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> ConnectionPoolEntry:
        if not self._waiters:
            with contextlib.suppress(Empty):
                return self.get_nowait()
        if not block:
            raise Empty()
        return await_only(self._wait(seconds=timeout))

    async def _wait(self, *, seconds: float | None) -> ConnectionPoolEntry:
        waiter: asyncio.Future[ConnectionPoolEntry] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except BaseException as exc:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                # Handed a connection just as this checkout gave up (timed out or was
                # cancelled): pass it on rather than lose it.
                self.put_nowait(waiter.result())
            if isinstance(exc, TimeoutError):
                raise Empty() from exc  # the pool turns it into its TimeoutError
            raise


class ObservedPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio queue pool, fair, counting into ``counters``.

    ``Database`` makes a subclass per engine that carries its counters, because SQLAlchemy
    builds pools itself (and rebuilds them, same class, when the engine is disposed).
    """

    _queue_class = FirstComeFirstServedQueue
    counters: ClassVar[PoolCounters]

    def connect(self) -> PoolProxiedConnection:
        # A checkout that finds an idle connection leaves at once; one that waits (for a
        # connection to come back, or a new one to open) is counted until it gets one.
        self.counters.waiting += 1
        try:
            return super().connect()
        except sqlalchemy.exc.TimeoutError:
            self.counters.timeouts += 1
            raise
        finally:
            self.counters.waiting -= 1

    def stats(self, limit: int) -> PoolStats:
        """This pool now; ``limit`` is its ``pool_size + max_overflow``."""
        # overflow() counts from -pool_size: the connections open beyond pool_size.
        return PoolStats(in_use=self.checkedout(), idle=self.checkedin(),
                         overflow=max(0, self.overflow()), waiting=self.counters.waiting,
                         limit=limit, timeouts=self.counters.timeouts)


def observed_pool_class(counters: PoolCounters) -> type[ObservedPool]:
    """A pool class counting into ``counters`` (SQLAlchemy instantiates it)."""
    attributes: dict[str, Any] = {"counters": counters}
    return type("ServicePool", (ObservedPool,), attributes)
