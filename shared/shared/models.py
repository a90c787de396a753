"""Small building blocks every service's tables use: ids, the clock, timestamp columns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the services use."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new UUID as a string (ids travel as strings everywhere)."""
    return str(uuid.uuid4())


def timestamp_column(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    """A timezone-aware timestamp column (``sa_column=`` of a SQLModel field)."""
    return Column(DateTime(timezone=True), nullable=nullable)
