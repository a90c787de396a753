"""RabbitMQ event bus on aio-pika: robust connection, publisher confirms, delayed retries.

Publishing goes through one confirm channel on a robust connection. Each consumer queue
is a ``QueueConsumer`` (``shared.events.rabbitmq_consumer``: its delay lines, its DLQ),
and broadcasts are exclusive queues of this process.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared.events.bus import EXCHANGE, Handler
from shared.events.delivery import RetryPolicy, handling
from shared.events.envelope import Event
from shared.events.rabbitmq_consumer import (
    ATTEMPTS_HEADER,
    OUTAGES_HEADER,
    REASON_HEADER,
    QueueConsumer,
    delay_line_name,
)

__all__ = ["ATTEMPTS_HEADER", "OUTAGES_HEADER", "REASON_HEADER", "BrokerUnavailable", "RabbitMQBus",
           "delay_line_name"]

logger = logging.getLogger("shared.events.rabbitmq")


class BrokerUnavailable(ConnectionError):
    """The broker could not be reached or did not confirm in time."""


class RabbitMQBus:
    """``EventBus`` on RabbitMQ: durable topic exchange ``membership_auto.events``.

    ``declare`` (queue -> routing keys, usually the platform's event catalogue) is
    declared and bound every time the bus connects, before anything is published.
    """

    def __init__(
        self,
        url: str,
        *,
        declare: Mapping[str, Sequence[str]] | None = None,
        prefetch: int = 16,
        publish_timeout: float = 5.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._declare = dict(declare or {})
        self._prefetch = prefetch
        self._publish_timeout = publish_timeout
        self._connect_timeout = connect_timeout
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consumers: list[QueueConsumer] = []
        # Broadcast channels and queues, kept referenced so the robust connection restores
        # them after a reconnect.
        self._broadcasts: list[tuple[AbstractChannel, AbstractQueue]] = []
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
        self._consumers.clear()
        self._broadcasts.clear()
        if connection is not None:
            await connection.close()

    async def drain(self, grace: float) -> None:
        """Stop taking messages, then wait up to ``grace`` s for the handlers running now.

        A message still unacked when the connection closes goes back to its queue, so a
        handler cut short is retried by another process; none is lost.
        """
        for consumer in self._consumers:
            try:
                await consumer.stop()
            except Exception:  # channel already gone: it takes no messages either
                logger.debug("consumer cancel failed", exc_info=True)
        handling = {task for consumer in self._consumers for task in consumer.handling}
        if handling:
            await asyncio.wait(handling, timeout=grace)

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
                await exchange.publish(_to_message(event), routing_key=event.routing_key)
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError, OSError) as exc:
            raise BrokerUnavailable(f"publish of {event.type} {event.id} failed") from exc

    async def subscribe(self, queue: str, routing_keys: Sequence[str], handler: Handler, *,
                        retry: RetryPolicy | None = None) -> None:
        """Consume durable ``queue`` bound to ``routing_keys``; ack after ``handler`` returns."""
        connection, _ = await self._ensure_connected()
        # One channel per queue so the prefetch limit applies to this queue alone.
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self._prefetch)
        consumer = QueueConsumer(channel, queue, handler, retry or RetryPolicy(),
                                 publish_timeout=self._publish_timeout)
        await consumer.start(routing_keys)
        self._consumers.append(consumer)
        logger.info("subscribed", extra={"event": "events.subscribed", "queue": queue,
                                         "routingKeys": list(routing_keys)})

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
                event = Event.from_json(message.body)
                with handling(event):
                    await handler(event)
            except Exception:
                logger.warning("broadcast handler failed", exc_info=True, extra={
                    "event": "events.broadcast_failed", "queue": declared.name,
                    "messageId": message.message_id})

        await declared.consume(on_message, no_ack=True)
        self._broadcasts.append((channel, declared))

    async def dead_letter_counts(self) -> dict[str, int]:
        """Messages waiting in the dead-letter queue of each queue this bus consumes."""
        return {consumer.name: await consumer.dead_letter_count() for consumer in self._consumers}

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
                    await _declare_queues(channel, exchange, self._declare)
                except BaseException:
                    await connection.close()
                    raise
                self._connection, self._channel, self._exchange = connection, channel, exchange
                logger.info("broker connected", extra={"event": "events.connected"})
            assert self._connection is not None and self._exchange is not None
            return self._connection, self._exchange


async def _declare_exchange(channel: AbstractChannel) -> AbstractExchange:
    return await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)


async def _declare_queues(channel: AbstractChannel, exchange: AbstractExchange,
                          queues: Mapping[str, Sequence[str]]) -> None:
    for name, routing_keys in queues.items():
        queue = await channel.declare_queue(name, durable=True)
        for key in routing_keys:
            await queue.bind(exchange, routing_key=key)


def _to_message(event: Event) -> aio_pika.Message:
    return aio_pika.Message(
        body=event.to_json(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        timestamp=event.occurred_at,
    )
