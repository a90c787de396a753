"""Telemetry upload: validate a batch, dedupe it, store it whole with ``COPY``.

The hot path of the service (ops scale it out for this), so it is lean on purpose:

- validation is a plain loop over the decoded JSON (no Pydantic per sample);
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
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import json_body
from shared.contracts.telematics import AlertV1, BatchIngestedV1
from shared.errors import REQUIRED_MESSAGE, BadRequest, FieldErrors
from shared.events import Outbox
from shared.models import new_id, utcnow
from shared.schemas import EARLIEST, LATEST
from telematics.models import (
    KNOWN_FIELDS,
    SAMPLE_COLUMNS,
    TelemetryBatch,
    VehicleDtcs,
    samples,
    vehicle_owners,
)

MAX_SAMPLES = 10_000
MAX_FIELD_ERRORS = 50  # a 10,000-sample batch of garbage needs no 10,000-line answer
_BIGINT = 2**63
_KNOWN_INDEX = {name: index for index, name in enumerate(KNOWN_FIELDS)}
_COPY_SQL = f"COPY samples ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN"

INTEGER_MESSAGE = "A valid integer is required."
# Epoch milliseconds of the instants every store and time zone can hold (shared.schemas): a
# sample outside them could be stored, but never read back as a date.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_MS = (EARLIEST - _EPOCH) // timedelta(milliseconds=1)
LATEST_MS = (LATEST - _EPOCH) // timedelta(milliseconds=1)
TIME_RANGE_MESSAGE = (f"Ensure this value is epoch milliseconds from {EARLIEST_MS} to "
                      f"{LATEST_MS} (0001-01-02 to 9999-12-30 UTC).")
NUMBER_MESSAGE = "A valid number is required."


@dataclass(frozen=True, slots=True)
class Batch:
    """A validated upload. ``rows`` are ``[t, speed, fuelRate, odometer, rpm,
    coolantTemp, extra]`` in the order sent (``extra``: dict of unknown keys or None)."""

    vehicle_id: str
    start_timestamp: int
    end_timestamp: int
    rows: list[list[Any]]
    dtc_list: list[str] | None
    max_odometer: float | None


@dataclass(frozen=True, slots=True)
class IngestResult:
    batch_id: str
    accepted: int
    duplicate: bool


def is_bigint(value: object) -> bool:
    """An ``int`` (not a bool) that a BIGINT column can hold."""
    return type(value) is int and -_BIGINT <= value < _BIGINT  # type: ignore[operator]


def _is_epoch_ms(value: object) -> bool:
    return type(value) is int and EARLIEST_MS <= value <= LATEST_MS  # type: ignore[operator]


def _time_error(value: object) -> list[str]:
    return [TIME_RANGE_MESSAGE if type(value) is int else INTEGER_MESSAGE]


def parse_batch(body: bytes, vehicle_id: str, *, max_samples: int = MAX_SAMPLES) -> Batch:
    """Decode and validate an upload body, or raise ``FieldErrors`` naming each bad field
    (``vehicleId``, ``startTimestamp``, ``endTimestamp``, ``samples``,
    ``samples.<index>.<field>``, ``dtcList``), or ``BadRequest`` when it is not JSON.
    Bodies that ``json.loads`` cannot take (nested too deep) never get here: the service's
    request guard refuses them."""
    if not body.strip():
        raise FieldErrors({"nonFieldErrors": ["A JSON body is required."]})
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(json_body.MALFORMED) from exc
    if type(data) is not dict:
        raise FieldErrors({"nonFieldErrors": ["Expected a JSON object."]})

    errors: dict[str, list[str]] = {}
    body_vehicle = data.get("vehicleId")
    if body_vehicle is None:
        errors["vehicleId"] = [REQUIRED_MESSAGE]
    elif body_vehicle != vehicle_id:
        errors["vehicleId"] = ["Must match the vehicle id in the URL."]
    start, end = data.get("startTimestamp"), data.get("endTimestamp")
    for name, value in (("startTimestamp", start), ("endTimestamp", end)):
        if value is None:
            errors[name] = [REQUIRED_MESSAGE]
        elif not _is_epoch_ms(value):
            errors[name] = _time_error(value)
    if "startTimestamp" not in errors and "endTimestamp" not in errors and start > end:
        errors["startTimestamp"] = ["Must not be after endTimestamp."]
        errors["endTimestamp"] = ["Must not be before startTimestamp."]

    dtc_list = _parse_dtcs(data.get("dtcList"), errors)
    raw_samples = data.get("samples")
    rows: list[list[Any]] = []
    max_odometer: float | None = None
    if raw_samples is None:
        errors["samples"] = [REQUIRED_MESSAGE]
    elif type(raw_samples) is not list:
        kind = type(raw_samples).__name__
        errors["samples"] = [f'Expected a list of items but got type "{kind}".']
    elif len(raw_samples) > max_samples:
        errors["samples"] = [f"Ensure this field has no more than {max_samples} elements."]
    else:
        rows, max_odometer = _parse_samples(raw_samples, errors)
    if errors:
        raise FieldErrors(errors)
    return Batch(vehicle_id=vehicle_id, start_timestamp=start, end_timestamp=end, rows=rows,
                 dtc_list=dtc_list, max_odometer=max_odometer)


def _parse_samples(raw_samples: list[Any], errors: dict[str, list[str]]
                   ) -> tuple[list[list[Any]], float | None]:
    rows: list[list[Any]] = []
    max_odometer: float | None = None
    known = _KNOWN_INDEX
    isfinite = math.isfinite
    for index, sample in enumerate(raw_samples):
        if len(errors) >= MAX_FIELD_ERRORS:
            break
        if type(sample) is not dict:
            errors[f"samples.{index}"] = ["Expected an object."]
            continue
        row: list[Any] = [None, None, None, None, None, None, None]
        extra: dict[str, Any] | None = None
        for key, value in sample.items():
            if key == "t":
                if _is_epoch_ms(value):
                    row[0] = value
                else:
                    errors[f"samples.{index}.t"] = _time_error(value)
                continue
            position = known.get(key)
            if position is None:
                if extra is None:
                    extra = {}
                extra[key] = value
            elif value is None:
                continue
            elif (type(value) is float and isfinite(value)) or type(value) is int:
                row[position + 1] = value
            else:
                errors[f"samples.{index}.{key}"] = [NUMBER_MESSAGE]
        if row[0] is None and f"samples.{index}.t" not in errors:
            errors[f"samples.{index}.t"] = [REQUIRED_MESSAGE]
        row[6] = extra
        odometer = row[3]
        if odometer is not None and (max_odometer is None or odometer > max_odometer):
            max_odometer = odometer
        rows.append(row)
    return rows, max_odometer


def _parse_dtcs(value: Any, errors: dict[str, list[str]]) -> list[str] | None:
    if value is None:
        return None
    if type(value) is not list or not all(type(c) is str and c.strip() for c in value):
        errors["dtcList"] = ["Expected a list of DTC codes (non-empty strings)."]
        return None
    return list(dict.fromkeys(code.strip().upper() for code in value))


def _dialect_insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """Insert the batch row if the projection says the caller owns the vehicle and no
    stored batch conflicts with it, ``RETURNING id``.

    Ownership and dedupe in one round trip: the row comes from ``vehicle_owners``, so a
    vehicle that is not the caller's (or is deleted, or unknown) inserts nothing, exactly
    like a duplicate. Built once per dialect (bound parameters), so the hot path skips
    statement building.
    """
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
    found = (await _run(session, query)).first()
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
    seed = _dialect_insert(session, VehicleDtcs).values(
        vehicle_id=vehicle_id, codes=[], as_of=-_BIGINT)
    await _run(session, seed.on_conflict_do_nothing(index_elements=["vehicle_id"]))
    query = (select(VehicleDtcs.codes, VehicleDtcs.as_of)
             .where(VehicleDtcs.vehicle_id == vehicle_id).with_for_update())
    current = (await _run(session, query)).one()
    previous, previous_as_of = list(current[0] or []), int(current[1])
    if as_of < previous_as_of:
        return []
    await _run(session, update(VehicleDtcs).where(VehicleDtcs.vehicle_id == vehicle_id)
               .values(codes=codes, as_of=as_of))
    active = set(previous)
    return [code for code in codes if code not in active]


async def active_dtcs(session: AsyncSession, vehicle_id: str) -> list[str]:
    """The vehicle's active DTC codes (empty when none were ever reported)."""
    query = select(VehicleDtcs.codes).where(VehicleDtcs.vehicle_id == vehicle_id)
    row = (await _run(session, query)).first()
    return list(row[0]) if row and row[0] else []


async def _run(session: AsyncSession, statement: Any) -> Any:
    """Execute a Core statement in the session's transaction (no ORM objects)."""
    return await (await session.connection()).execute(statement)
