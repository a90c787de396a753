"""The limit store in Redis, shared by every gateway replica (``REDIS_URL``).

Each key is a sorted set of the members holding a slot, scored by the time they took it.
One Lua script checks every window of a reservation and takes the slots, so no other
replica's reservation can slip in between: Redis runs a script alone. The clock is Redis's
own (``TIME``), so replicas whose clocks drift still agree on when a slot ages out. A key
expires one window after its last reservation, so Redis holds only what can still count.

When Redis cannot be reached (or answers slower than ``timeout``) ``reserve`` raises
``LimitStoreUnavailable`` and the caller decides: the gateway refuses logins and falls back
to its own memory for registrations. The outage is logged once when it starts, then at
most every ``LOG_EVERY_SECONDS`` with the number of errors meanwhile, and once when it
ends; ``available`` and ``errors`` are the gateway's metrics.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.ratelimit import LimitStoreUnavailable, Reservation, Window, retry_after_seconds

log = logging.getLogger("gateway.ratelimit")

LOG_EVERY_SECONDS = 30.0

# KEYS: one sorted set per window. ARGV: the member, then (limit, window in ms) per key.
# Returns 0 when every slot was taken, else the milliseconds until the full ones free one.
RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then
  return wait
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2 * i + 1])
end
return 0
"""


def _describe(exc: BaseException) -> str:
    # redis-py's repr() of its errors drops the message ("network:ConnectionError").
    return f"{type(exc).__name__}: {exc}"


class RedisLimitStore:
    """Slots in Redis under ``prefix`` (``REDIS_KEY_PREFIX``)."""

    backend = "redis"

    def __init__(self, url: str, *, prefix: str, timeout: float, max_connections: int) -> None:
        # A bounded pool: a login flood waits for a connection (up to the timeout) instead
        # of opening thousands. One retry on a fresh connection covers a pooled one that
        # Redis closed (a restart); a timeout is not retried, the login waits long enough.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout, socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)))
        self._redis: Redis = Redis.from_pool(pool)
        self._reserve: Any = self._redis.register_script(RESERVE)
        self.prefix = prefix
        self.available = True
        self.errors = 0
        self._down_since = 0.0
        self._logged_at = 0.0
        self._unlogged_errors = 0

    async def reserve(self, slots: Sequence[tuple[Window, str]]) -> Reservation:
        keys = [f"{self.prefix}{window.name}:{key}" for window, key in slots]
        member = uuid.uuid4().hex
        args: list[str | int] = [member]
        for window, _ in slots:
            args += [window.limit, max(1, round(window.seconds * 1000))]
        try:
            wait_ms = int(await self._reserve(keys=keys, args=args))
        except (RedisError, OSError) as exc:
            self._failed("reserve", exc)
            raise LimitStoreUnavailable(str(exc)) from exc
        self._succeeded()
        if wait_ms > 0:
            return Reservation(retry_after=retry_after_seconds(wait_ms / 1000))
        return Reservation(self, tuple(keys), member)

    async def release(self, reservation: Reservation) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in reservation.keys:
                    pipe.zrem(key, reservation.member)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # The slot stays until its window ends: the limit errs on the strict side.
            self._failed("release", exc)
            return
        self._succeeded()

    async def aclose(self) -> None:
        await self._redis.aclose(close_connection_pool=True)

    def _failed(self, operation: str, exc: BaseException) -> None:
        self.errors += 1
        now = time.monotonic()
        if self.available:
            self.available = False
            self._down_since = self._logged_at = now
            self._unlogged_errors = 0
            log.error("rate-limit store unavailable: logins are refused until it is back",
                      extra={"event": "limit_store_down", "backend": self.backend,
                             "operation": operation, "error": _describe(exc)})
        elif now - self._logged_at >= LOG_EVERY_SECONDS:
            log.error("rate-limit store still unavailable",
                      extra={"event": "limit_store_still_down", "backend": self.backend,
                             "operation": operation, "error": _describe(exc),
                             "errorsSinceLastLog": self._unlogged_errors + 1,
                             "downSeconds": round(now - self._down_since, 1)})
            self._logged_at = now
            self._unlogged_errors = 0
        else:
            self._unlogged_errors += 1

    def _succeeded(self) -> None:
        if self.available:
            return
        self.available = True
        log.warning("rate-limit store reachable again",
                    extra={"event": "limit_store_up", "backend": self.backend,
                           "downSeconds": round(time.monotonic() - self._down_since, 1)})
