"""Background pruning: tables that only grow lose the rows nobody needs any more.

A :class:`PruneRule` names a table and which of its rows are removable once they are
older than a retention; a :class:`Pruner` deletes them on an interval, in the
background, beside request traffic. It never takes long locks: each statement deletes
at most ``batch_size`` rows by primary key in its own short transaction, and it pauses
between batches, so a backlog of millions of rows drains as a trickle of small
deletes instead of one statement that locks them all and bloats the WAL at once.
Several processes of one service may prune together: on PostgreSQL each batch locks its
rows ``FOR UPDATE SKIP LOCKED``, so two pruners take different rows instead of queueing
behind each other (SQLite ignores the clause; it has one writer at a time anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import ColumnElement, Delete, Table, delete, select, tuple_

from shared.db import Database
from shared.events.tables import EventTables
from shared.settings import ServiceSettings

logger = logging.getLogger("shared.pruning")

PRUNED_ROWS = Counter("pruned_rows_total", "Rows deleted by the background pruner",
                      ["service", "table"])

Removable = Callable[[datetime], ColumnElement[bool]]
"""Given the cutoff (now minus the retention), the condition of a row that may go."""


@dataclass(frozen=True)
class PruneRule:
    """Rows of ``table`` for which ``removable(now - retention)`` holds may be deleted."""

    table: Table
    retention: timedelta
    removable: Removable


def event_table_rules(tables: EventTables, *, outbox_retention: timedelta,
                      processed_retention: timedelta) -> list[PruneRule]:
    """The rules every service has: published outbox rows and processed-event markers.

    A pending outbox row (``published_at`` NULL) is never removable, however old: it is
    an event the broker has not confirmed yet, and deleting it would lose the event.
    ``NULL < cutoff`` is not true in SQL, so the comparison alone keeps it.

    A processed-event marker is what makes a redelivered event a no-op, so it must
    outlive every redelivery of its event (see ``PROCESSED_EVENTS_RETENTION_SECONDS`` in
    ``shared.settings``).
    """
    outbox, processed = tables.outbox, tables.processed
    return [
        PruneRule(outbox, outbox_retention, lambda cutoff: outbox.c.published_at < cutoff),
        PruneRule(processed, processed_retention,
                  lambda cutoff: processed.c.processed_at < cutoff),
    ]


class Pruner:
    """Applies prune rules to one service's database every ``interval`` seconds.

    A pass that fails (database down, lock timeout) is logged and tried again at the
    next interval; the task itself never dies of it.
    """

    def __init__(self, database: Database, rules: Sequence[PruneRule], *, service: str,
                 interval: float = 300.0, batch_size: int = 500, pause: float = 0.1,
                 stop_timeout: float = 5.0) -> None:
        self._database = database
        self._rules = list(rules)
        self._service = service
        self._interval = interval
        self._batch_size = batch_size
        self._pause = pause
        self._stop_timeout = stop_timeout
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Prune in a background task, a first pass one interval from now, until ``stop()``.

        Not at once: start-up is a service's busiest moment (migrations, every replica
        starting together), and nothing about pruning is urgent.
        """
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="pruner")

    async def stop(self) -> None:
        """Stop after the batch in flight (cancelled if it takes over ``stop_timeout``)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=self._stop_timeout)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def prune_once(self) -> dict[str, int]:
        """One pass over every rule; returns rows deleted per table.

        A rule that fails is logged and skipped, so one table's trouble does not keep
        the others from being pruned.
        """
        now = datetime.now(UTC)
        deleted: dict[str, int] = {}
        for rule in self._rules:
            if self._stopping.is_set():
                break
            name = rule.table.name
            try:
                count = await self._prune(rule, now - rule.retention)
            except Exception:
                logger.exception("prune pass failed, will retry", extra={
                    "event": "prune.failed", "table": name})
                continue
            deleted[name] = deleted.get(name, 0) + count
        return deleted

    async def _prune(self, rule: PruneRule, cutoff: datetime) -> int:
        started = time.monotonic()
        statement = self._delete_batch(rule, cutoff)
        total = batches = 0
        while True:
            async with self._database.engine.begin() as connection:
                count = (await connection.execute(statement)).rowcount
            total += count
            batches += 1
            PRUNED_ROWS.labels(self._service, rule.table.name).inc(count)
            # A short batch means nothing (or only rows another pruner holds) is left.
            if count < self._batch_size or await self._stopped_within(self._pause):
                break
        if total:
            logger.info("pruned", extra={
                "event": "prune.deleted", "table": rule.table.name, "rows": total,
                "batches": batches, "seconds": round(time.monotonic() - started, 3)})
        return total

    def _delete_batch(self, rule: PruneRule, cutoff: datetime) -> Delete:
        """``DELETE … WHERE pk IN (SELECT pk … WHERE removable LIMIT n FOR UPDATE SKIP LOCKED)``.

        By primary key from a limited subselect: PostgreSQL has no ``DELETE … LIMIT``,
        and the key makes each delete an index lookup per row.
        """
        key = list(rule.table.primary_key.columns)
        doomed = (select(*key).where(rule.removable(cutoff)).limit(self._batch_size)
                  .with_for_update(skip_locked=True))
        target = key[0] if len(key) == 1 else tuple_(*key)
        return delete(rule.table).where(target.in_(doomed))

    async def _stopped_within(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if ``stop()`` is called; True when stopping."""
        with contextlib.suppress(TimeoutError):
            # asyncio.timeout, not wait_for: see OutboxRelay._run.
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        return self._stopping.is_set()

    async def _run(self) -> None:
        while not await self._stopped_within(self._interval):
            await self.prune_once()


def service_pruner(database: Database, settings: ServiceSettings, event_tables: EventTables,
                   rules: Sequence[PruneRule] = ()) -> Pruner:
    """The pruner of a service: its event tables, plus its own ``rules``, per its settings."""
    return Pruner(database, [
        *event_table_rules(
            event_tables, outbox_retention=timedelta(seconds=settings.outbox_retention_seconds),
            processed_retention=timedelta(seconds=settings.processed_events_retention_seconds)),
        *rules,
    ], service=settings.service_name, interval=settings.prune_interval_seconds,
        batch_size=settings.prune_batch_size)
