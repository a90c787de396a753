"""The background pruner on SQLite and PostgreSQL: what goes, what stays, in what batches."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, event, insert, select, text

from shared.db import Database
from shared.events import define_event_tables
from shared.pruning import Pruner, event_table_rules
from testsupport.apps import wait_until

metadata = MetaData()
tables = define_event_tables(metadata)
NOW = datetime.now(UTC)
RULES = event_table_rules(tables, outbox_retention=timedelta(days=7),
                          processed_retention=timedelta(days=30))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2, max_overflow=2)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def service() -> str:
    """A service name of the test's own, so its metric samples start at zero."""
    return f"test-{uuid.uuid4().hex[:8]}"


async def add_outbox_rows(database: Database, count: int, *, created_days_ago: float,
                          published_days_ago: float | None) -> list[str]:
    """``count`` outbox rows; published that many days ago, or pending when None."""
    published = None if published_days_ago is None else NOW - timedelta(published_days_ago)
    rows = [{"id": str(uuid.uuid4()), "type": "test.happened", "payload": "{}",
             "created_at": NOW - timedelta(created_days_ago), "published_at": published,
             "attempts": 0} for _ in range(count)]
    async with database.engine.begin() as connection:
        await connection.execute(insert(tables.outbox), rows)
    return [row["id"] for row in rows]


async def add_markers(database: Database, count: int, *, days_ago: float) -> list[str]:
    """``count`` processed-event markers of two consumers, processed ``days_ago``."""
    rows = [{"consumer": f"queue{index % 2}", "event_id": str(uuid.uuid4()),
             "processed_at": NOW - timedelta(days_ago)} for index in range(count)]
    async with database.engine.begin() as connection:
        await connection.execute(insert(tables.processed), rows)
    return [row["event_id"] for row in rows]


async def outbox_ids(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set((await connection.execute(select(tables.outbox.c.id))).scalars())


async def marker_ids(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set((await connection.execute(select(tables.processed.c.event_id))).scalars())


def pruned(service: str, table: str) -> float:
    return REGISTRY.get_sample_value("pruned_rows_total",
                                     {"service": service, "table": table}) or 0.0


async def test_published_rows_past_retention_go_and_pending_and_recent_ones_stay(
        database: Database) -> None:
    old = await add_outbox_rows(database, 3, created_days_ago=10, published_days_ago=8)
    pending = await add_outbox_rows(database, 2, created_days_ago=400, published_days_ago=None)
    recent = await add_outbox_rows(database, 2, created_days_ago=8, published_days_ago=6)
    name = service()

    deleted = await Pruner(database, RULES, service=name).prune_once()

    assert deleted == {"outbox_events": len(old), "processed_events": 0}
    assert await outbox_ids(database) == set(pending + recent)
    assert pruned(name, "outbox_events") == len(old)


async def test_processed_markers_past_retention_go_and_recent_ones_stay(
        database: Database) -> None:
    await add_markers(database, 5, days_ago=31)
    recent = await add_markers(database, 4, days_ago=29)
    name = service()

    deleted = await Pruner(database, RULES, service=name).prune_once()

    assert deleted == {"outbox_events": 0, "processed_events": 5}
    assert await marker_ids(database) == set(recent)
    assert pruned(name, "processed_events") == 5


async def test_many_rows_go_in_bounded_batches_each_its_own_transaction(
        database: Database) -> None:
    await add_outbox_rows(database, 2_500, created_days_ago=9, published_days_ago=8)
    kept = await add_outbox_rows(database, 10, created_days_ago=1, published_days_ago=1)
    seen: list[str | int] = []

    def record_delete(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM OUTBOX_EVENTS"):
            seen.append(cursor.rowcount)

    def record_commit(_conn: Any) -> None:
        seen.append("commit")

    event.listen(database.engine.sync_engine, "after_cursor_execute", record_delete)
    event.listen(database.engine.sync_engine, "commit", record_commit)
    try:
        pruner = Pruner(database, RULES[:1], service=service(), batch_size=1_000, pause=0)
        deleted = await pruner.prune_once()
    finally:
        event.remove(database.engine.sync_engine, "after_cursor_execute", record_delete)
        event.remove(database.engine.sync_engine, "commit", record_commit)

    assert deleted == {"outbox_events": 2_500}
    assert seen == [1_000, "commit", 1_000, "commit", 500, "commit"]
    assert await outbox_ids(database) == set(kept)


async def test_a_failing_rule_is_logged_and_retried_and_the_task_survives(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    # A table the database does not have yet: every statement on it fails.
    later = MetaData()
    late_tables = define_event_tables(later)
    rules = [*event_table_rules(late_tables, outbox_retention=timedelta(days=7),
                                processed_retention=timedelta(days=30))[:1], *RULES[1:]]
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP TABLE outbox_events"))
    await add_markers(database, 3, days_ago=40)
    pruner = Pruner(database, rules, service=service(), interval=0.05, pause=0)
    with caplog.at_level(logging.ERROR, logger="shared.pruning"):
        await pruner.start()
        try:
            # The outbox rule fails, the markers are pruned all the same.
            await wait_until(lambda: any(getattr(record, "event", "") == "prune.failed"
                                         for record in caplog.records))

            async def markers_gone() -> bool:
                return not await marker_ids(database)

            await wait_until(markers_gone)
            async with database.engine.begin() as connection:
                await connection.run_sync(later.create_all)
            old = await add_outbox_rows(database, 2, created_days_ago=9, published_days_ago=8)

            async def outbox_pruned() -> bool:
                return not (set(old) & await outbox_ids(database))

            await wait_until(outbox_pruned)
        finally:
            await pruner.stop()


async def test_stop_ends_the_background_task(database: Database) -> None:
    pruner = Pruner(database, RULES, service=service(), interval=3600)
    await pruner.start()
    task = pruner._task
    await pruner.stop()
    assert task is not None and task.done() and not task.cancelled()


async def test_a_row_locked_by_another_transaction_is_skipped_not_waited_for(
        postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=2, max_overflow=2)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        held, *others = await add_outbox_rows(database, 3, created_days_ago=9,
                                              published_days_ago=8)
        pruner = Pruner(database, RULES[:1], service=service())
        async with database.engine.connect() as other, other.begin():
            await other.execute(select(tables.outbox.c.id).where(tables.outbox.c.id == held)
                                .with_for_update())
            assert await pruner.prune_once() == {"outbox_events": len(others)}
        assert await pruner.prune_once() == {"outbox_events": 1}
        assert await outbox_ids(database) == set()
    finally:
        await database.dispose()
