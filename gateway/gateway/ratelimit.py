"""Sliding-window limits that attempts reserve before they run: the store interface, in memory.

A limit allows ``limit`` slots per ``seconds`` for each key (an e-mail, a client address).
An attempt that a limit counts takes its slot *before* it is forwarded, in every window it
is subject to at once: all of them, or none when one is full (and then ``retry_after`` says
when the oldest slot of the full ones ages out). Once the outcome is known, a slot that
should not count (a login that succeeded) is given back. A check made before anything is
counted lets every concurrent attempt through; a reservation lets at most ``limit`` hold a
slot, whatever the concurrency.

Two stores with the same semantics: ``MemoryLimitStore`` here (one gateway process: ``make
run``, tests) and ``gateway.ratelimit_redis.RedisLimitStore`` (shared by every replica).
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` slots per ``seconds`` for each key of this kind (``name``)."""

    name: str
    limit: int
    seconds: float


class LimitStore(Protocol):
    """Where the slots live. ``available`` and ``errors`` feed the gateway's metrics."""

    backend: str
    available: bool
    errors: int

    async def reserve(self, slots: Sequence[tuple[Window, str]]) -> Reservation:
        """A slot in each ``(window, key)``, or none and a refusal.

        Raises ``LimitStoreUnavailable`` when the store cannot be asked.
        """
        ...

    async def release(self, reservation: Reservation) -> None:
        """Give the slots back. Never raises: a slot that cannot be given back ages out."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Reservation:
    """The slots one attempt holds (all named ``member``), or a refusal: ``retry_after``
    above 0 is the number of seconds to wait, and nothing was taken."""

    store: LimitStore | None = None
    keys: tuple[str, ...] = ()
    member: str = ""
    retry_after: int = 0

    async def release(self) -> None:
        if self.store is not None and self.keys:
            await self.store.release(self)


class LimitStoreUnavailable(Exception):
    """The store could not be asked (down, or slower than its timeout)."""


def retry_after_seconds(wait: float) -> int:
    """A wait as ``Retry-After`` has it: whole seconds, at least 1."""
    return max(1, math.ceil(wait))


class MemoryLimitStore:
    """The slots of one gateway process (a sliding log of ``(time, member)`` per key).

    The event loop makes each call atomic. Keys whose slots have all aged out are swept
    now and then, so memory stays bounded by one window's traffic.
    """

    backend = "memory"
    available = True
    errors = 0

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sweep_every: int = 1024) -> None:
        self._clock = clock
        self._logs: dict[str, tuple[float, deque[tuple[float, str]]]] = {}
        self._sweep_every = sweep_every
        self._since_sweep = 0

    async def reserve(self, slots: Sequence[tuple[Window, str]]) -> Reservation:
        now = self._clock()
        keys = [f"{window.name}:{key}" for window, key in slots]
        wait: float | None = None
        for (window, _), key in zip(slots, keys, strict=True):
            entries = self._live(key, now)
            if entries is not None and len(entries) >= window.limit:
                oldest_expires = entries[0][0] + window.seconds - now
                wait = oldest_expires if wait is None else max(wait, oldest_expires)
        if wait is not None:
            return Reservation(retry_after=retry_after_seconds(wait))
        member = uuid.uuid4().hex
        for (window, _), key in zip(slots, keys, strict=True):
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = (window.seconds, deque())
            log[1].append((now, member))
        self._since_sweep += 1
        if self._since_sweep >= self._sweep_every:
            self._sweep(now)
        return Reservation(self, tuple(keys), member)

    async def release(self, reservation: Reservation) -> None:
        for key in reservation.keys:
            log = self._logs.get(key)
            if log is None:
                continue
            entries = log[1]
            for index, (_, member) in enumerate(entries):
                if member == reservation.member:
                    del entries[index]
                    break

    async def aclose(self) -> None:
        return None

    def _live(self, key: str, now: float) -> deque[tuple[float, str]] | None:
        log = self._logs.get(key)
        if log is None:
            return None
        seconds, entries = log
        horizon = now - seconds
        while entries and entries[0][0] <= horizon:
            entries.popleft()
        if not entries:
            del self._logs[key]
            return None
        return entries

    def _sweep(self, now: float) -> None:
        self._since_sweep = 0
        for key in list(self._logs):
            self._live(key, now)

    def __len__(self) -> int:
        return len(self._logs)
