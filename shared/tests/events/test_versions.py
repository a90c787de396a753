"""Two major versions of one event in flight at once, as during a transition: each consumer
receives the copy of the version it binds, never the other (the routing key carries it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shared.contracts import EventContract, Registry
from shared.events import Event, IdempotentConsumer, MemoryBus, define_event_tables, get_hub

metadata = MetaData()
tables = define_event_tables(metadata)


class ThingMovedV1(EventContract):
    TYPE: ClassVar[str] = "thing.moved"
    thing_id: str
    place: str


class ThingMovedV2(EventContract):
    """v2 renamed ``place`` (a breaking change, hence a new major version)."""

    TYPE: ClassVar[str] = "thing.moved"
    VERSION: ClassVar[int] = 2
    thing_id: str
    location: str


REGISTRY = Registry([ThingMovedV1, ThingMovedV2])


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def test_a_major_version_past_the_first_has_its_own_routing_key() -> None:
    assert ThingMovedV1.routing_key() == "thing.moved"
    assert ThingMovedV2.routing_key() == "thing.moved.v2"
    assert Event.new("thing.moved", "p", {}, version=2).routing_key == "thing.moved.v2"
    assert REGISTRY.routing_keys == {"thing.moved", "thing.moved.v2"}


async def test_each_consumer_gets_only_the_version_it_binds(
        sessions: async_sessionmaker) -> None:
    seen: dict[str, list[str]] = {"v1": [], "v2": []}

    async def on_v1(session: object, event: Event) -> None:
        seen["v1"].append(ThingMovedV1.of(event).place)

    async def on_v2(session: object, event: Event) -> None:
        seen["v2"].append(ThingMovedV2.of(event).location)

    bus = MemoryBus()
    await IdempotentConsumer(sessions, tables, bus, "old.things", {"thing.moved": on_v1},
                             contracts=REGISTRY).start()
    await IdempotentConsumer(sessions, tables, bus, "new.things", {"thing.moved.v2": on_v2},
                             contracts=REGISTRY).start()
    # The producer publishes both majors of the same move while consumers migrate.
    await bus.publish(Event.new("thing.moved", "p",
                                ThingMovedV1(thing_id="t", place="A").data()))
    await bus.publish(Event.new("thing.moved", "p",
                                ThingMovedV2(thing_id="t", location="A").data(), version=2))
    await get_hub().wait_idle()
    await bus.close()
    assert seen == {"v1": ["A"], "v2": ["A"]}
    assert get_hub().dead_letters("old.things") == get_hub().dead_letters("new.things") == []
