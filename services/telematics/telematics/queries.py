"""Reading samples back: keyset pages by time, and the stream that summaries use."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import json_body
from shared.errors import FieldErrors
from shared.statements import run
from telematics.batches import is_bigint
from telematics.models import KNOWN_FIELDS, samples
from telematics.trips import Reading

_KNOWN = tuple(KNOWN_FIELDS.items())
_ORDER = (samples.c.t, samples.c.batch_id, samples.c.seq)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last sample's (t, batch_id, seq), a total order."""

    t: int
    batch_id: str
    seq: int


def encode_cursor(position: Position) -> str:
    """An opaque string for ``next``: base64url of the last sample's sort key."""
    raw = json.dumps([position.t, position.batch_id, position.seq], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a ``cursor`` stands for, or ``FieldErrors`` on ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        t, batch_id, seq = json_body.loads(raw)
        # Only what page_samples produced: anything else would reach the database.
        if not (is_bigint(t) and is_bigint(seq) and type(batch_id) is str
                and batch_id.isprintable()):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise FieldErrors({"cursor": ["Invalid cursor."]}) from exc
    return Position(t, batch_id, seq)


def sample_body(row: Any) -> dict[str, Any]:
    """A stored sample as it was sent: ``t``, the known keys present, the unknown keys."""
    values = row._mapping  # (``Row.t`` is SQLAlchemy's tuple accessor, not the column)
    body: dict[str, Any] = {"t": values["t"]}
    for wire, column in _KNOWN:
        value = values[column]
        if value is not None:
            body[wire] = value
    extra = values["extra"]
    if extra:
        body.update(extra)
    return body


async def page_samples(session: AsyncSession, vehicle_id: str, *, start: int | None,
                       end: int | None, limit: int, after: Position | None
                       ) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` samples with ``start <= t <= end`` after ``after``, in time order,
    and the cursor of the next page (None on the last one).

    Keyset pagination on ``(t, batch_id, seq)``: served by the ``(vehicle_id, t)``
    index, constant cost per page however deep, stable while new batches arrive.
    """
    query = select(samples).where(samples.c.vehicle_id == vehicle_id)
    if start is not None:
        query = query.where(samples.c.t >= start)
    if end is not None:
        query = query.where(samples.c.t <= end)
    if after is not None:
        query = query.where(tuple_(*_ORDER) > tuple_(after.t, after.batch_id, after.seq))
    rows = (await run(session, query.order_by(*_ORDER).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]._mapping
        next_cursor = encode_cursor(Position(last["t"], last["batch_id"], last["seq"]))
    return [sample_body(row) for row in rows], next_cursor


async def stream_readings(session: AsyncSession, vehicle_id: str) -> AsyncIterator[Reading]:
    """Every sample of the vehicle in time order, as trip readings, fetched in chunks
    (a server-side cursor on PostgreSQL): memory stays flat on long histories."""
    query = (select(samples.c.t, samples.c.speed, samples.c.fuel_rate, samples.c.odometer)
             .where(samples.c.vehicle_id == vehicle_id).order_by(*_ORDER)
             .execution_options(yield_per=5000))
    result = await session.stream(query)
    async for t, speed, fuel_rate, odometer in result:
        yield Reading(t, speed, fuel_rate, odometer)
