"""The two tables a service needs for the outbox and for idempotent consumers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text


@dataclass(frozen=True)
class EventTables:
    """``outbox_events`` and ``processed_events`` of one service's database."""

    outbox: Table
    processed: Table


def define_event_tables(metadata: MetaData) -> EventTables:
    """Add ``outbox_events`` and ``processed_events`` to a service's ``metadata``.

    Called once per service, on its own ``MetaData``, so the tables land in that
    service's database and its migrations pick them up like any other table.
    """
    outbox = Table(
        "outbox_events",
        metadata,
        Column("id", String(36), primary_key=True, comment="the event id"),
        Column("type", String(200), nullable=False),
        Column("payload", Text, nullable=False, comment="the envelope JSON"),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, default=0, server_default="0"),
        # The relay's query: pending rows (published_at IS NULL), oldest first.
        Index("ix_outbox_events_pending", "published_at", "created_at"),
    )
    processed = Table(
        "processed_events",
        metadata,
        # The primary key is the dedup: a second insert of (consumer, event) fails.
        Column("consumer", String(200), primary_key=True, comment="the queue name"),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        # The pruner's query: markers older than the retention (shared.pruning).
        Index("ix_processed_events_processed_at", "processed_at"),
    )
    return EventTables(outbox=outbox, processed=processed)
