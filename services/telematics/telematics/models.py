"""The telematics service's tables.

It owns telemetry batches and samples, the active DTC set per vehicle, and a local
projection of vehicle ownership fed by ``vehicle.*`` events.

``samples`` is built for volume: one narrow row per sample, no primary key (a batch's
rows are identified by ``(batch_id, seq)``), written set-based (``COPY`` on PostgreSQL),
read by ``(vehicle_id, t)`` ranges through a btree index, with a BRIN index on ``t``
for time-wide maintenance scans on PostgreSQL (see the 0001 migration).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.events import define_event_tables
from shared.models import new_id, timestamp_column, utcnow
from shared.projections.vehicle_owners import VehicleOwners

JSON_VARIANT = JSON().with_variant(JSONB(), "postgresql")





class TelematicsTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, apart from other services'."""


class TelemetryBatch(TelematicsTable, table=True):
    """One accepted upload. The unique constraints are the race-safe dedupe."""

    __tablename__ = "telemetry_batches"
    __table_args__ = (
        UniqueConstraint("vehicle_id", "start_timestamp", "end_timestamp",
                         name="uq_batches_vehicle_window"),
        UniqueConstraint("vehicle_id", "idempotency_key", name="uq_batches_vehicle_key"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    vehicle_id: str = Field(max_length=64)
    start_timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    idempotency_key: str | None = Field(default=None, max_length=200)
    accepted: int
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class VehicleDtcs(TelematicsTable, table=True):
    """The DTC codes active on a vehicle: the latest batch's ``dtcList`` (by end time)."""

    __tablename__ = "vehicle_dtcs"

    vehicle_id: str = Field(primary_key=True, max_length=64)
    codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    as_of: int = Field(sa_column=Column(BigInteger, nullable=False),
                       description="endTimestamp of the batch that set the codes")


# Known sample keys: wire name -> column name. Everything else goes to ``extra``.
KNOWN_FIELDS: dict[str, str] = {
    "speed": "speed",
    "fuelRate": "fuel_rate",
    "odometer": "odometer",
    "rpm": "rpm",
    "coolantTemp": "coolant_temp",
}

samples = Table(
    "samples",
    TelematicsTable.metadata,
    Column("vehicle_id", String(64), nullable=False),
    Column("t", BigInteger, nullable=False, comment="epoch milliseconds"),
    Column("batch_id", String(36), nullable=False),
    Column("seq", Integer, nullable=False, comment="position in the batch (tiebreak)"),
    Column("speed", Float, nullable=True, comment="km/h"),
    Column("fuel_rate", Float, nullable=True, comment="L/h"),
    Column("odometer", Float, nullable=True, comment="km"),
    Column("rpm", Float, nullable=True),
    Column("coolant_temp", Float, nullable=True, comment="degrees C"),
    Column("extra", JSON_VARIANT, nullable=True, comment="unknown sample keys, as sent"),
    Index("ix_samples_vehicle_t", "vehicle_id", "t"),
)
"""One row per sample (a Core table: no ORM object is ever made per sample)."""

SAMPLE_COLUMNS = ("vehicle_id", "t", "batch_id", "seq", *KNOWN_FIELDS.values(), "extra")

event_tables = define_event_tables(TelematicsTable.metadata)
#: Who owns each vehicle: the projection of ``vehicle.*`` events.
vehicle_owners = VehicleOwners(TelematicsTable.metadata)
