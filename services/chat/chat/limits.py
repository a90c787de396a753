"""Per-socket frame limits (CONTRACT.md): how fast one socket may send, and how often its
``TYPING`` notices are fanned out.

**Frames.** A token bucket per socket: ``rate`` tokens a second, holding at most a
second's worth (``max(1, rate)``); every frame takes one, and a frame that finds none is
answered ``ERROR`` without being read (the socket stays open). The default, 500 a second,
leaves a load tool sending 200 ``SEND`` a second on one socket, bursts included, well
under it, while a client flooding frames cannot make this process parse, store or fan
out more than that. A frame costs one ``time.monotonic()`` and a few float operations:
the ``SEND`` path has a tight latency budget.

**TYPING.** Each ``TYPING`` goes to every socket of the thread's owner and of all
support staff (on every replica), so a member repeating it would multiply into every
advisor's socket. A socket's ``TYPING`` for a thread is fanned out at most once per
:data:`TYPING_INTERVAL_SECONDS`; the others in that second are dropped silently (a
typing indicator lasts longer than that anyway).

Time is passed in (``now``, monotonic seconds), so tests drive the clock.
"""

from __future__ import annotations

TYPING_INTERVAL_SECONDS = 1.0
_TYPING_ENTRIES_KEPT = 16
"""Threads remembered per socket before the ones older than the interval are forgotten;
at most a second's worth of frames can be newer, so the map stays bounded."""


class FrameLimiter:
    """The limits of one socket (small: one per open socket, created at connect)."""

    __slots__ = ("_rate", "_capacity", "_tokens", "_stamp", "_typed")

    def __init__(self, rate: float, now: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = now
        self._typed: dict[str, float] | None = None  # thread id -> last fan-out

    def allow(self, now: float) -> bool:
        """Take a token for one frame; False when the socket is over its rate."""
        tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True

    def typing_due(self, thread_id: str, now: float) -> bool:
        """Whether a ``TYPING`` for ``thread_id`` is fanned out now (and remember that it
        was); False within :data:`TYPING_INTERVAL_SECONDS` of the last one."""
        typed = self._typed
        if typed is None:
            typed = self._typed = {}
        last = typed.get(thread_id)
        if last is not None and now - last < TYPING_INTERVAL_SECONDS:
            return False
        if len(typed) >= _TYPING_ENTRIES_KEPT:
            for stale in [t for t, at in typed.items() if now - at >= TYPING_INTERVAL_SECONDS]:
                del typed[stale]
        typed[thread_id] = now
        return True
