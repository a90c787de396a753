"""RabbitMQ event bus on aio-pika: robust connection, publisher confirms, retry and DLQ.

Retries are done by republishing rather than ``nack(requeue=True)``: a requeued message
goes back to the head of the queue with no attempt count, so a poison message would loop
forever. Republishing to the same queue (through the default exchange) with an
``x-attempts`` header puts it at the back and lets us count; at ``max_attempts`` it goes
to the durable queue ``<queue>.dlq`` instead.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared.events.bus import DEFAULT_MAX_ATTEMPTS, EXCHANGE, Handler, dead_letter_queue_name
from shared.events.envelope import Event

logger = logging.getLogger("shared.events.rabbitmq")

ATTEMPTS_HEADER = "x-attempts"


class BrokerUnavailable(ConnectionError):
    """The broker could not be reached or did not confirm in time."""


@dataclass
class _Subscription:
    # Held so the objects stay referenced: connect_robust only restores the channels,
    # queues and consumers that are still alive after a reconnect.
    channel: AbstractChannel
    queue: AbstractQueue
    dead_letter_queue: AbstractQueue | None
    consumer_tag: str


class RabbitMQBus:
    """``EventBus`` on RabbitMQ: durable topic exchange ``membership_auto.events``."""

    def __init__(
        self,
        url: str,
        *,
        prefetch: int = 16,
        publish_timeout: float = 5.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._prefetch = prefetch
        self._publish_timeout = publish_timeout
        self._connect_timeout = connect_timeout
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._subscriptions: list[_Subscription] = []
        self._connect_lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect and declare the exchange; raises ``BrokerUnavailable`` if unreachable.

        A bus whose start failed can still be used: publish and subscribe connect on
        demand, so the outbox relay recovers once the broker is back.
        """
        await self._ensure_connected()

    async def close(self) -> None:
        """Close the connection (and with it every channel and consumer)."""
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        self._subscriptions.clear()
        if connection is not None:
            await connection.close()

    async def publish(self, event: Event) -> None:
        """Publish persistently and wait for the broker's confirm.

        Raises ``BrokerUnavailable`` when the broker is down or the confirm does not
        arrive within ``publish_timeout`` (during a reconnect a publish would otherwise
        wait forever); the caller, usually the outbox relay, retries later.
        """
        exchange = (await self._ensure_connected())[1]
        try:
            # asyncio.timeout, not wait_for: on 3.11 a cancelled wait_for can hang forever.
            async with asyncio.timeout(self._publish_timeout):
                await exchange.publish(_to_message(event), routing_key=event.type,
                                       mandatory=False)
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError, OSError) as exc:
            raise BrokerUnavailable(f"publish of {event.type} {event.id} failed") from exc

    async def subscribe(
        self,
        queue: str,
        routing_keys: Sequence[str],
        handler: Handler,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        """Consume durable ``queue`` bound to ``routing_keys``; ack after ``handler`` returns."""
        connection, _ = await self._ensure_connected()
        # One channel per subscription so the prefetch limit applies to this queue alone.
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange = await _declare_exchange(channel)
        declared = await channel.declare_queue(queue, durable=True)
        dead_letters = await channel.declare_queue(dead_letter_queue_name(queue), durable=True)
        for key in routing_keys:
            await declared.bind(exchange, routing_key=key)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._deliver(channel, declared.name, message, handler, max_attempts)

        tag = await declared.consume(on_message)
        self._subscriptions.append(_Subscription(channel, declared, dead_letters, tag))
        logger.info(
            "subscribed",
            extra={"event": "events.subscribed", "queue": queue, "routingKeys": list(routing_keys)},
        )

    async def subscribe_broadcast(self, routing_keys: Sequence[str], handler: Handler) -> None:
        """Bind a queue of this process's own to ``routing_keys``; at most once, no retries.

        The queue is exclusive and auto-deleted, so it lives exactly as long as this
        connection. It is named here rather than by the server: the robust connection
        re-declares it after a reconnect, and the broker refuses client declarations of
        ``amq.gen-*`` names.
        """
        connection, _ = await self._ensure_connected()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange = await _declare_exchange(channel)
        declared = await channel.declare_queue(f"broadcast.{uuid.uuid4().hex}",
                                               exclusive=True, auto_delete=True)
        for key in routing_keys:
            await declared.bind(exchange, routing_key=key)

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                await handler(Event.from_json(message.body))
            except Exception:
                logger.warning("broadcast handler failed", exc_info=True, extra={
                    "event": "events.broadcast_failed", "queue": declared.name,
                    "messageId": message.message_id})

        tag = await declared.consume(on_message, no_ack=True)
        self._subscriptions.append(_Subscription(channel, declared, None, tag))

    async def ping(self) -> None:
        """Raise ``BrokerUnavailable`` unless the connection is currently open."""
        await self._ensure_connected()
        if self._connection is None or self._connection.is_closed:
            raise BrokerUnavailable("broker connection is closed")
        # A robust connection is "not closed" while it is reconnecting; ask the channel.
        if self._channel is None or self._channel.is_closed:
            raise BrokerUnavailable("broker channel is closed")

    async def _ensure_connected(self) -> tuple[AbstractRobustConnection, AbstractExchange]:
        async with self._connect_lock:
            if self._connection is None:
                try:
                    connection = await aio_pika.connect_robust(
                        self._url, timeout=self._connect_timeout
                    )
                except (TimeoutError, aio_pika.exceptions.AMQPError, OSError) as exc:
                    logger.warning(
                        "broker unreachable", extra={"event": "events.broker_unreachable"}
                    )
                    raise BrokerUnavailable("could not connect to the broker") from exc
                try:
                    channel = await connection.channel(publisher_confirms=True)
                    exchange = await _declare_exchange(channel)
                except BaseException:
                    await connection.close()
                    raise
                self._connection, self._channel, self._exchange = connection, channel, exchange
                logger.info("broker connected", extra={"event": "events.connected"})
            assert self._connection is not None and self._exchange is not None
            return self._connection, self._exchange

    async def _deliver(
        self,
        channel: AbstractChannel,
        queue: str,
        message: AbstractIncomingMessage,
        handler: Handler,
        max_attempts: int,
    ) -> None:
        try:
            event = Event.from_json(message.body)
        except ValueError:
            # Malformed: no retry can fix it, so it goes straight to the DLQ for a human.
            logger.error(
                "malformed message",
                extra={
                    "event": "events.malformed",
                    "queue": queue,
                    "messageId": message.message_id,
                },
            )
            await self._republish(channel, message, dead_letter_queue_name(queue), 1)
            return
        try:
            await handler(event)
        except Exception:
            attempts = _attempts(message) + 1
            target = queue if attempts < max_attempts else dead_letter_queue_name(queue)
            extra = {
                "event": "events.handler_failed",
                "queue": queue,
                "eventType": event.type,
                "eventId": event.id,
                "attempts": attempts,
                "target": target,
            }
            logger.warning("event handler failed", exc_info=True, extra=extra)
            await self._republish(channel, message, target, attempts)
            return
        await message.ack()

    async def _republish(
        self,
        channel: AbstractChannel,
        message: AbstractIncomingMessage,
        queue: str,
        attempts: int,
    ) -> None:
        """Copy ``message`` to ``queue`` with the new attempt count, then ack the original.

        Confirmed before the ack, so a crash in between duplicates the message rather than
        losing it.
        """
        copy = aio_pika.Message(
            body=message.body,
            headers={**(message.headers or {}), ATTEMPTS_HEADER: attempts},
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
            timestamp=message.timestamp,
        )
        try:
            async with asyncio.timeout(self._publish_timeout):
                await channel.default_exchange.publish(copy, routing_key=queue)
            await message.ack()
        except Exception:
            logger.exception(
                "could not requeue failed message",
                extra={"event": "events.requeue_failed", "queue": queue},
            )
            # Unacked, the broker redelivers it (without our count) once the channel heals.
            try:
                await message.nack(requeue=True)
            except Exception:
                pass  # channel gone: the broker requeues unacked messages by itself


async def _declare_exchange(channel: AbstractChannel) -> AbstractExchange:
    return await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)


def _to_message(event: Event) -> aio_pika.Message:
    return aio_pika.Message(
        body=event.to_json(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        timestamp=event.occurred_at,
    )


def _attempts(message: AbstractIncomingMessage) -> int:
    value: Any = (message.headers or {}).get(ATTEMPTS_HEADER, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
