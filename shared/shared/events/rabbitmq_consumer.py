"""One durable queue consumed from RabbitMQ, with its delay lines and dead-letter queue.

For queue ``Q``:

- ``Q.retry.<delay>s``, one *delay line* per retry delay: a durable queue with a message
  TTL whose expired messages are dead-lettered back to ``Q`` (through the default
  exchange). A failed delivery is republished to the line of its delay, so it waits
  inside the broker, survives a consumer restart, and blocks nothing behind it;
- ``Q.dlq``, where a message lands when it keeps failing for a reason of its own
  (``shared.events.delivery`` decides which failures count).

Attempt and outage counts travel in the ``x-attempts`` / ``x-outages`` headers, and a
dead-lettered message carries why in ``x-dead-letter-reason``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from shared.events.bus import EXCHANGE, Handler
from shared.events.delivery import (
    DELIVERIES,
    RetryPolicy,
    handling,
    judge,
    log_failure,
    log_handled,
)
from shared.events.envelope import Event

logger = logging.getLogger("shared.events.rabbitmq")

ATTEMPTS_HEADER = "x-attempts"
OUTAGES_HEADER = "x-outages"
REASON_HEADER = "x-dead-letter-reason"


def delay_line_name(queue: str, delay: float) -> str:
    """The queue where messages of ``queue`` wait ``delay`` seconds before a retry."""
    return f"{queue}.retry.{delay:g}s"


class QueueConsumer:
    """Consumes one durable queue on a channel of its own; acks after the handler returns.

    The channel, queues and consumer tag are kept referenced: ``connect_robust`` restores
    after a reconnect only the objects that are still alive.
    """

    def __init__(self, channel: AbstractChannel, name: str, handler: Handler,
                 retry: RetryPolicy, *, publish_timeout: float) -> None:
        self.channel = channel
        self.name = name
        self._handler = handler
        self._retry = retry
        self._publish_timeout = publish_timeout
        self._queue: AbstractQueue | None = None
        self._dead_letters: AbstractQueue | None = None
        self._delay_lines: list[AbstractQueue] = []
        self._tag = ""
        self.handling: set[asyncio.Task[Any]] = set()

    async def start(self, routing_keys: Sequence[str]) -> None:
        """Declare the queue, its delay lines and DLQ, bind it, and start consuming."""
        exchange = await self.channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                       durable=True)
        self._queue = await self.channel.declare_queue(self.name, durable=True)
        self._dead_letters = await self.channel.declare_queue(
            self._retry.dead_letter_queue(self.name), durable=True)
        for delay in self._retry.retry_delays():
            self._delay_lines.append(await self.channel.declare_queue(
                delay_line_name(self.name, delay), durable=True, arguments={
                    "x-message-ttl": max(1, round(delay * 1000)),
                    "x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.name}))
        for key in routing_keys:
            await self._queue.bind(exchange, routing_key=key)
        self._tag = await self._queue.consume(self._on_message)

    async def stop(self) -> None:
        """Take no more messages (the ones being handled finish)."""
        if self._queue is not None and self._tag:
            await self._queue.cancel(self._tag)

    async def dead_letter_count(self) -> int:
        """Messages waiting in this queue's DLQ."""
        assert self._dead_letters is not None
        return (await self._dead_letters.declare()).message_count or 0

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Each delivery runs in a task of its own; a draining bus waits for these.
        task = asyncio.current_task()
        assert task is not None
        self.handling.add(task)
        try:
            await self._deliver(message)
        finally:
            self.handling.discard(task)

    async def _deliver(self, message: AbstractIncomingMessage) -> None:
        retry = self._retry
        try:
            event = Event.from_json(message.body)
        except ValueError as exc:
            # Malformed: no retry can fix it, so it goes straight to the DLQ for a human.
            logger.error("malformed message", extra={
                "event": "events.malformed", "queue": self.name,
                "messageId": message.message_id})
            DELIVERIES.labels(self.name, "dead_lettered").inc()
            await self._move(message, retry.dead_letter_queue(self.name), {
                ATTEMPTS_HEADER: 1, REASON_HEADER: f"malformed envelope: {exc}"[:1000]})
            return
        with handling(event):
            started = time.perf_counter()
            try:
                await self._handler(event)
            except Exception as exc:
                verdict = judge(retry, exc, _count(message, ATTEMPTS_HEADER),
                                _count(message, OUTAGES_HEADER))
                log_failure(self.name, event, verdict)
                target = (retry.dead_letter_queue(self.name) if verdict.dead_letter
                          else delay_line_name(self.name, verdict.delay))
                counts: dict[str, int | str] = {ATTEMPTS_HEADER: verdict.attempts,
                                                OUTAGES_HEADER: verdict.outages}
                if verdict.dead_letter:
                    counts[REASON_HEADER] = verdict.reason
                await self._move(message, target, counts)
                return
            await message.ack()
            log_handled(self.name, event, started)

    async def _move(self, message: AbstractIncomingMessage, queue: str,
                    counts: Mapping[str, int | str]) -> None:
        """Copy ``message`` to ``queue`` with the new counts, then ack the original.

        Confirmed before the ack, so a crash in between duplicates the message rather than
        losing it (and consumers are idempotent).
        """
        copy = aio_pika.Message(
            body=message.body, headers={**(message.headers or {}), **counts},
            content_type=message.content_type, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id, type=message.type, timestamp=message.timestamp)
        try:
            async with asyncio.timeout(self._publish_timeout):
                await self.channel.default_exchange.publish(copy, routing_key=queue)
            await message.ack()
        except Exception:
            logger.exception("could not move failed message", extra={
                "event": "events.requeue_failed", "queue": queue})
            # Unacked, the broker redelivers it (without our counts) once the channel heals.
            try:
                await message.nack(requeue=True)
            except Exception:
                pass  # channel gone: the broker requeues unacked messages by itself


def _count(message: AbstractIncomingMessage, header: str) -> int:
    value: Any = (message.headers or {}).get(header, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
