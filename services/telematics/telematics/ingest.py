"""Telemetry upload: dedupe a validated batch (``telematics.batches``), store it whole
with ``COPY``.

The hot path of the service (ops scale it out for this), so it is lean on purpose:

- the batch row, every sample and the outbox event(s) go in **one** transaction: a
  batch is stored whole or not at all;
- ownership is checked by the statement that claims the batch (one round trip for
  both); only when it claims nothing is the slower ownership check run;
- dedupe is the database's job: ``telemetry_batches`` has unique constraints on
  (vehicle, startTimestamp, endTimestamp) and (vehicle, Idempotency-Key), and the batch
  row is inserted first with ``ON CONFLICT DO NOTHING``, so of two concurrent copies of
  a batch (even on two processes) one stores and the other answers with its batchId;
- samples are written set-based: ``COPY ... FROM STDIN`` on PostgreSQL (psycopg 3, on
  the session's own connection, inside its transaction), one ``executemany`` on SQLite.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, bindparam, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.telematics import AlertV1, BatchIngestedV1
from shared.events import Outbox
from shared.models import new_id, utcnow
from shared.statements import insert_for, run, upsert
from telematics.batches import BIGINT, Batch
from telematics.models import SAMPLE_COLUMNS, TelemetryBatch, VehicleDtcs, samples, vehicle_owners

_COPY_SQL = f"COPY samples ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN"


@dataclass(frozen=True, slots=True)
class IngestResult:
    batch_id: str
    accepted: int
    duplicate: bool



@functools.cache
def _claim_statement(dialect: str) -> Any:
    """Insert the batch row if the projection says the caller owns the vehicle and no
    stored batch conflicts with it, ``RETURNING id``.

    Ownership and dedupe in one round trip: the row comes from ``vehicle_owners``, so a
    vehicle that is not the caller's (or is deleted, or unknown) inserts nothing, exactly
    like a duplicate. Built once per dialect (bound parameters), so the hot path skips
    statement building.
    """
    insert_ = insert_for(dialect)
    owners = vehicle_owners.table
    source = select(
        bindparam("id", type_=String), owners.c.vehicle_id,
        bindparam("start_timestamp", type_=BigInteger),
        bindparam("end_timestamp", type_=BigInteger),
        bindparam("idempotency_key", type_=String), bindparam("accepted", type_=Integer),
        bindparam("created_at", type_=DateTime(timezone=True)),
    ).where(owners.c.vehicle_id == bindparam("vehicle_id"),
            owners.c.user_id == bindparam("user_id"), owners.c.deleted.is_(False))
    columns = ("id", "vehicle_id", "start_timestamp", "end_timestamp", "idempotency_key",
               "accepted", "created_at")
    return (insert_(TelemetryBatch).from_select(columns, source)
            .on_conflict_do_nothing().returning(TelemetryBatch.id))  # type: ignore[arg-type]


async def store_batch(session: AsyncSession, outbox: Outbox, batch: Batch, *, user_id: str,
                      idempotency_key: str | None,
                      check_owner: Callable[[], Awaitable[None]]) -> IngestResult:
    """Store ``batch`` (batch row + samples + events) in one transaction and commit, or
    find the batch it repeats and store nothing.

    When the claim inserts nothing, either the vehicle is not (yet) known to be the
    caller's or the batch is a repeat: ``check_owner`` settles the first (it raises 404,
    or learns the owner from the vehicles service), then the claim is tried once more.
    """
    claimed = await _claim(session, batch, batch_id := new_id(), user_id, idempotency_key)
    if not claimed:
        await session.rollback()
        await check_owner()
        claimed = await _claim(session, batch, batch_id, user_id, idempotency_key)
    if not claimed:
        first_id, first_accepted = await find_duplicate(session, batch, idempotency_key)
        await session.rollback()
        return IngestResult(batch_id=first_id, accepted=first_accepted, duplicate=True)

    await write_samples(session, batch_id, batch)
    await outbox.add(session, BatchIngestedV1(
        vehicle_id=batch.vehicle_id, batch_id=batch_id, samples=len(batch.rows),
        max_odometer=batch.max_odometer, end_timestamp=batch.end_timestamp))
    if batch.dtc_list is not None:
        new_codes = await replace_active_dtcs(session, batch.vehicle_id, batch.dtc_list,
                                              as_of=batch.end_timestamp)
        if new_codes:
            await outbox.add(session, AlertV1(
                vehicle_id=batch.vehicle_id, user_id=user_id, dtcs=new_codes))
    await session.commit()
    return IngestResult(batch_id=batch_id, accepted=len(batch.rows), duplicate=False)


async def _claim(session: AsyncSession, batch: Batch, batch_id: str, user_id: str,
                 idempotency_key: str | None) -> bool:
    connection = await session.connection()
    claimed = (await connection.execute(_claim_statement(connection.dialect.name), {
        "id": batch_id, "vehicle_id": batch.vehicle_id, "user_id": user_id,
        "start_timestamp": batch.start_timestamp, "end_timestamp": batch.end_timestamp,
        "idempotency_key": idempotency_key, "accepted": len(batch.rows),
        "created_at": utcnow()})).first()
    return claimed is not None


async def find_duplicate(session: AsyncSession, batch: Batch,
                         idempotency_key: str | None) -> tuple[str, int]:
    """The stored batch that ``batch`` repeats (same window, or same Idempotency-Key)."""
    same_window = (TelemetryBatch.start_timestamp == batch.start_timestamp) & (
        TelemetryBatch.end_timestamp == batch.end_timestamp)
    match = same_window if idempotency_key is None else (
        same_window | (TelemetryBatch.idempotency_key == idempotency_key))
    query = (select(TelemetryBatch.id, TelemetryBatch.accepted)
             .where(TelemetryBatch.vehicle_id == batch.vehicle_id, match)
             .order_by(TelemetryBatch.created_at))
    found = (await run(session, query)).first()
    if found is None:  # cannot happen: a conflict means a committed row exists
        raise RuntimeError("batch conflict without a stored batch")
    return str(found[0]), int(found[1])


async def write_samples(session: AsyncSession, batch_id: str, batch: Batch) -> None:
    """Append the batch's samples in the session's transaction, set-based."""
    if not batch.rows:
        return
    connection = await session.connection()
    vehicle_id = batch.vehicle_id
    if connection.dialect.name == "postgresql":
        raw = (await connection.get_raw_connection()).driver_connection
        dumps = json.dumps
        async with raw.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
            write_row = copy.write_row
            for seq, (t, speed, fuel, odo, rpm, coolant, extra) in enumerate(batch.rows):
                await write_row((vehicle_id, t, batch_id, seq, speed, fuel, odo, rpm, coolant,
                                 None if extra is None else dumps(extra)))
        return
    await connection.execute(insert(samples), [
        {"vehicle_id": vehicle_id, "t": t, "batch_id": batch_id, "seq": seq, "speed": speed,
         "fuel_rate": fuel, "odometer": odo, "rpm": rpm, "coolant_temp": coolant,
         "extra": extra}
        for seq, (t, speed, fuel, odo, rpm, coolant, extra) in enumerate(batch.rows)])


async def replace_active_dtcs(session: AsyncSession, vehicle_id: str, codes: list[str], *,
                              as_of: int) -> list[str]:
    """Make ``codes`` the vehicle's active DTCs and return those not active before.

    The row is locked (``FOR UPDATE``) so two concurrent batches cannot both announce the
    same new code. A batch older than the one that set the current codes (``as_of``)
    changes nothing and announces nothing: it is stale news.
    """
    seed = upsert(session, VehicleDtcs).values(
        vehicle_id=vehicle_id, codes=[], as_of=-BIGINT)
    await run(session, seed.on_conflict_do_nothing(index_elements=["vehicle_id"]))
    query = (select(VehicleDtcs.codes, VehicleDtcs.as_of)
             .where(VehicleDtcs.vehicle_id == vehicle_id).with_for_update())
    current = (await run(session, query)).one()
    previous, previous_as_of = list(current[0] or []), int(current[1])
    if as_of < previous_as_of:
        return []
    await run(session, update(VehicleDtcs).where(VehicleDtcs.vehicle_id == vehicle_id)
               .values(codes=codes, as_of=as_of))
    active = set(previous)
    return [code for code in codes if code not in active]


async def active_dtcs(session: AsyncSession, vehicle_id: str) -> list[str]:
    """The vehicle's active DTC codes (empty when none were ever reported)."""
    query = select(VehicleDtcs.codes).where(VehicleDtcs.vehicle_id == vehicle_id)
    row = (await run(session, query)).first()
    return list(row[0]) if row and row[0] else []
