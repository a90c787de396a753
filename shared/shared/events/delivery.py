"""What happens to one delivery: the context its handler runs in, and where it goes when
the handler fails. Both bus backends follow these rules, so they retry alike.

Two kinds of failure are told apart:

- **an outage** (the consumer's database is unreachable, its pool is exhausted, a peer
  service or the broker does not answer): the message is fine and will succeed once the
  outage ends. It is retried after growing delays, capped at ``outage_max_delay`` so it
  runs soon after the outage ends, and it never uses up an attempt, however long the
  outage lasts;
- **anything else** (the handler raised on this message's data): it counts as an
  attempt. It is retried after ``delays[0]``, ``delays[1]``, ... and after
  ``max_attempts`` attempts it goes to the dead-letter queue, where an operator looks at
  it and replays it once the cause is fixed (``python -m shared.events.dlq``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx
import sqlalchemy.exc
from prometheus_client import Counter

from shared.contracts import ContractViolation
from shared.errors import DATABASE_UNAVAILABLE, ServiceUnavailable
from shared.events.envelope import Event
from shared.logging import request_id_var

logger = logging.getLogger("shared.events.delivery")

causation_var: ContextVar[str] = ContextVar("causation_id", default="")
"""The id of the event being handled, so the events its handler stages name their cause."""

DELIVERIES = Counter(
    "events_deliveries_total", "Deliveries of events to a consumer queue, by outcome "
    "(handled, retried, retried_outage, dead_lettered)", ["queue", "outcome"])


@dataclass(frozen=True)
class RetryPolicy:
    """How a consumer queue retries failed deliveries (settings ``CONSUMER_*``)."""

    delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    """Seconds before the 1st, 2nd, ... retry; the last one repeats if attempts remain."""
    max_attempts: int = 6
    """Failed attempts after which a message is dead-lettered (1 = no retry)."""
    outage_max_delay: float = 10.0
    """Longest wait between retries during an outage: how late after it a message runs."""
    dead_letter_suffix: str = ".dlq"

    def __post_init__(self) -> None:
        if not self.delays or min(self.delays) <= 0:
            raise ValueError("retry delays must be a non-empty list of positive seconds")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def dead_letter_queue(self, queue: str) -> str:
        """Where messages of ``queue`` go when they keep failing."""
        return f"{queue}{self.dead_letter_suffix}"

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt."""
        return self.delays[min(failures, len(self.delays)) - 1]

    def outage_delay(self, outages: int) -> float:
        """Seconds to wait after the ``outages``-th delivery that met an outage."""
        return min(self.delay(outages), self.outage_max_delay)

    def retry_delays(self) -> list[float]:
        """Every delay a retry of either kind can wait: one delay line each."""
        delays = set(self.delays) | {min(d, self.outage_max_delay) for d in self.delays}
        return sorted(delays)


@dataclass(frozen=True)
class Verdict:
    """Where a failed delivery goes next."""

    dead_letter: bool
    delay: float
    attempts: int
    outages: int
    outcome: str
    reason: str = ""
    """Why it was dead-lettered (kept with the message, shown by ``dlq list``)."""


_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    # Connection refused or lost, database not accepting connections, pool checkout
    # timeouts, serialization failures and lock timeouts: what the API answers with 503.
    *DATABASE_UNAVAILABLE,
    httpx.TransportError,  # a peer service that does not answer
    ServiceUnavailable,  # a peer that answered 503, or a projection fallback that failed
    ConnectionError,
    TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says something the handler needs is down, not that the message is bad."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _OUTAGE_ERRORS)


def judge(policy: RetryPolicy, exc: BaseException, attempts: int, outages: int) -> Verdict:
    """Decide what follows a failed delivery that had already failed ``attempts`` times
    for reasons of its own and met ``outages`` outages."""
    if isinstance(exc, ContractViolation):
        # No retry can make data valid or teach the consumer an unknown version.
        return Verdict(True, 0.0, attempts + 1, outages, "dead_lettered",
                       f"contract violation: {exc}")
    if is_outage(exc):
        return Verdict(False, policy.outage_delay(outages + 1), attempts, outages + 1,
                       "retried_outage")
    attempts += 1
    if attempts >= policy.max_attempts:
        return Verdict(True, 0.0, attempts, outages, "dead_lettered",
                       f"failed {attempts} times, last: {type(exc).__name__}: {exc}"[:1000])
    return Verdict(False, policy.delay(attempts), attempts, outages, "retried")


@contextmanager
def handling(event: Event) -> Iterator[None]:
    """The context a handler of ``event`` runs in, and its outcome is logged in.

    Log lines carry the correlation id as ``requestId`` (the gateway request that started
    the story), and events the handler stages get this event as their cause.
    """
    request_token = request_id_var.set(event.correlation_id or event.id)
    causation_token = causation_var.set(event.id)
    try:
        yield
    finally:
        causation_var.reset(causation_token)
        request_id_var.reset(request_token)


def log_handled(queue: str, event: Event, started: float) -> None:
    """One line per event a consumer queue applied: how a story is followed to its end."""
    logger.info("event handled", extra={
        "event": "events.handled", "queue": queue, "eventType": event.type,
        "eventId": event.id, "causationId": event.causation_id,
        "ms": round((time.perf_counter() - started) * 1000, 1)})
    DELIVERIES.labels(queue, "handled").inc()


def log_failure(queue: str, event: Event, verdict: Verdict) -> None:
    """One structured line per failed delivery, with the verdict."""
    extra = {"event": f"events.{verdict.outcome}", "queue": queue, "eventType": event.type,
             "eventId": event.id, "attempts": verdict.attempts, "outages": verdict.outages,
             "retryIn": verdict.delay}
    if verdict.reason:
        extra["reason"] = verdict.reason
    if verdict.dead_letter:
        logger.error("event handler failed, dead-lettering", exc_info=True, extra=extra)
    elif verdict.outcome == "retried_outage":
        # An outage fails every delivery the same way; the traceback adds nothing.
        logger.warning("event handler met an outage, will retry", extra=extra)
    else:
        logger.warning("event handler failed, will retry", exc_info=True, extra=extra)
    DELIVERIES.labels(queue, verdict.outcome).inc()
