"""In-memory sliding-window rate limits (per gateway process).

A limiter remembers, per key (an e-mail, a client IP), the times of the events that
count against it within the window. ``retry_after`` says how long until one of them
ages out once the limit is reached, which is what the client gets in ``Retry-After``.
Keys with nothing left in their window are swept now and then, so memory stays
bounded by the traffic of one window.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float, *,
                 clock: Callable[[], float] = time.monotonic, sweep_every: int = 1024) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._sweep_every = sweep_every
        self._since_sweep = 0

    def _recent(self, key: str, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        horizon = now - self.window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may act again, or ``None`` when it is under the limit."""
        if self.limit <= 0:
            return None
        now = self._clock()
        events = self._recent(key, now)
        if events is None or len(events) < self.limit:
            return None
        return max(1, math.ceil(events[0] + self.window - now))

    def hit(self, key: str) -> None:
        """Count one event for ``key``."""
        now = self._clock()
        events = self._recent(key, now)
        if events is None:
            events = self._events[key] = deque()
        events.append(now)
        # Keep only what can still matter.
        while len(events) > max(self.limit, 1):
            events.popleft()
        self._since_sweep += 1
        if self._since_sweep >= self._sweep_every:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._since_sweep = 0
        for key in list(self._events):
            self._recent(key, now)

    def __len__(self) -> int:
        return len(self._events)
