"""List and replay the platform's dead-letter queues.

    python -m shared.events.dlq list [--samples N]
    python -m shared.events.dlq replay QUEUE [--id EVENT_ID ...]

``list`` shows, for every consumer queue of the event catalogue, how many messages its
DLQ holds, with up to N sample envelopes, how often each was tried and why it was
dead-lettered (a handler that kept failing, a contract violation, a malformed
envelope). ``replay`` moves the DLQ's messages (all, or the given event ids) back into
the live queue with fresh attempt counts, once the cause is fixed; consumers are
idempotent, so a message that was in fact applied before is not applied twice. It runs
wherever a service runs (every image has it) with the service's ``AMQP_URL`` and
``CONSUMER_DEAD_LETTER_SUFFIX``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.events.catalog import QUEUES
from shared.events.rabbitmq import ATTEMPTS_HEADER, OUTAGES_HEADER, REASON_HEADER


@dataclass
class DeadLetters:
    """One DLQ: its live queue, how many messages it holds, and a few of them."""

    queue: str
    dead_letter_queue: str
    count: int
    samples: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"queue": self.queue, "deadLetterQueue": self.dead_letter_queue,
                "count": self.count, "samples": self.samples}


async def list_dead_letters(amqp_url: str, *, suffix: str = ".dlq", samples: int = 3,
                            queues: Sequence[str] = tuple(QUEUES)) -> list[DeadLetters]:
    """The DLQ of each of ``queues`` that exists, with up to ``samples`` messages each
    (looked at and put back, in order)."""
    found = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for queue in queues:
            name = f"{queue}{suffix}"
            # A passive declare of a missing queue closes its channel: one channel each.
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                continue
            entry = DeadLetters(queue, name, declared.declaration_result.message_count or 0)
            taken: list[AbstractIncomingMessage] = []
            while len(taken) < samples and (message := await declared.get(fail=False)):
                taken.append(message)
                entry.samples.append(_describe(message))
            for message in taken:
                await message.nack(requeue=True)
            await channel.close()
            found.append(entry)
    return found


async def replay(amqp_url: str, queue: str, *, suffix: str = ".dlq",
                 event_ids: Sequence[str] = ()) -> int:
    """Move messages of ``queue``'s DLQ (all, or those with ``event_ids``) back into
    ``queue``; returns how many moved. Each is confirmed in the live queue before it
    leaves the DLQ, so a crash in between duplicates rather than loses it."""
    moved = 0
    wanted = set(event_ids)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.declare_queue(f"{queue}{suffix}", passive=True)
        await channel.declare_queue(queue, passive=True)  # the live queue must exist
        kept: list[AbstractIncomingMessage] = []
        # Only what is there now: a message that fails again while this runs waits for
        # the next replay instead of cycling.
        for _ in range(dead.declaration_result.message_count or 0):
            message = await dead.get(fail=False)
            if message is None:
                break
            if wanted and message.message_id not in wanted:
                kept.append(message)
                continue
            await _publish_fresh(channel, message, queue)
            await message.ack()
            moved += 1
        for message in kept:
            await message.nack(requeue=True)
    return moved


async def _publish_fresh(channel: AbstractChannel, message: AbstractIncomingMessage,
                         queue: str) -> None:
    headers = {k: v for k, v in (message.headers or {}).items()
               if k not in (ATTEMPTS_HEADER, OUTAGES_HEADER, REASON_HEADER, "x-death")}
    await channel.default_exchange.publish(aio_pika.Message(
        body=message.body, headers=headers, content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=message.message_id,
        type=message.type, timestamp=message.timestamp), routing_key=queue)


def _describe(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = message.headers or {}
    try:
        envelope: Any = json.loads(message.body)
    except ValueError:
        envelope = message.body.decode("utf-8", "replace")[:500]
    return {"messageId": message.message_id, "attempts": headers.get(ATTEMPTS_HEADER, 0),
            "outages": headers.get(OUTAGES_HEADER, 0), "reason": _text(headers.get(REASON_HEADER)),
            "envelope": envelope}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.events.dlq", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--amqp-url", default=os.environ.get(
        "AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--suffix", default=os.environ.get("CONSUMER_DEAD_LETTER_SUFFIX",
                                                           ".dlq"))
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="each DLQ with its count and samples")
    listing.add_argument("--samples", type=int, default=3)
    listing.add_argument("--json", action="store_true", help="one JSON document")
    replaying = commands.add_parser("replay", help="move a DLQ's messages back to its queue")
    replaying.add_argument("queue", help="the live queue, e.g. engagement.users")
    replaying.add_argument("--id", dest="ids", action="append", default=[],
                           help="only this event id (repeatable); default: all")
    args = parser.parse_args(argv)
    if args.command == "list":
        found = asyncio.run(list_dead_letters(args.amqp_url, suffix=args.suffix,
                                              samples=args.samples))
        if args.json:
            print(json.dumps([entry.as_json() for entry in found], indent=2, default=str))
            return
        for entry in found:
            print(f"{entry.dead_letter_queue:<40} {entry.count:>7} message(s)")
            for sample in entry.samples:
                print(f"    {json.dumps(sample, default=str)}")
        print(f"{sum(e.count for e in found)} dead-lettered message(s) in {len(found)} DLQs")
        return
    moved = asyncio.run(replay(args.amqp_url, args.queue, suffix=args.suffix,
                               event_ids=args.ids))
    print(f"replayed {moved} message(s) from {args.queue}{args.suffix} into {args.queue}")


if __name__ == "__main__":
    main()
