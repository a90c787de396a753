"""Fixtures for the event bus tests: a fresh in-process hub and RabbitMQ cleanup."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.events import RetryPolicy, reset_hub
from shared.events.rabbitmq import delay_line_name


@pytest.fixture(autouse=True)
def fresh_hub() -> Iterator[None]:
    """Each test gets an empty in-process hub."""
    reset_hub()
    yield
    reset_hub()


@pytest.fixture
def unique() -> str:
    """A short random suffix for queue names and routing keys."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def rabbit(amqp_url: str) -> AsyncIterator[RabbitAdmin]:
    """A raw aio-pika connection for inspecting queues; deletes registered queues after."""
    connection = await aio_pika.connect_robust(amqp_url)
    admin = RabbitAdmin(connection)
    try:
        yield admin
    finally:
        await admin.delete_queues()
        await connection.close()


class RabbitAdmin:
    """Inspect and clean up queues created by a test."""

    def __init__(self, connection: AbstractRobustConnection) -> None:
        self.connection = connection
        self._queues: list[str] = []

    def track(self, *queues: str, retry: RetryPolicy | None = None) -> None:
        """Delete these queues, their DLQ and delay lines (by ``retry``) when the test ends."""
        retry = retry or RetryPolicy()
        for queue in queues:
            self._queues += [queue, retry.dead_letter_queue(queue)]
            self._queues += [delay_line_name(queue, d) for d in retry.retry_delays()]

    async def message_count(self, queue: str) -> int:
        """Ready messages in ``queue`` (passive declare: fails if it does not exist)."""
        async with self.connection.channel() as channel:
            declared = await channel.declare_queue(queue, passive=True)
            return declared.declaration_result.message_count or 0

    async def get(self, queue: str) -> aio_pika.abc.AbstractIncomingMessage | None:
        """Take one message from ``queue`` (acked), or None when it is empty."""
        async with self.connection.channel() as channel:
            declared = await channel.declare_queue(queue, passive=True)
            message = await declared.get(fail=False, no_ack=True)
            return message

    async def delete_queues(self) -> None:
        async with self.connection.channel() as channel:
            for queue in self._queues:
                await channel.queue_delete(queue)
