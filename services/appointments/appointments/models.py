"""The appointments service's tables.

It owns service locations and appointments, one lock row per (location, local day) that
bookings serialise on (see ``appointments.booking``), and a projection of vehicle
ownership fed by ``vehicle.*`` events (``shared.projections.vehicle_owners``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, String, Table
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.events import define_event_tables
from shared.models import new_id, timestamp_column, utcnow
from shared.projections.vehicle_owners import VehicleOwners

SCHEDULED = "scheduled"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
CANCELLED = "cancelled"
STATUSES = (SCHEDULED, IN_PROGRESS, COMPLETED, CANCELLED)


class AppointmentsTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, apart from other services'."""


class Location(AppointmentsTable, table=True):
    """A service centre: where it is, its time zone, weekly hours and number of bays."""

    __tablename__ = "locations"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = None
    lng: float | None = None
    phone: str | None = Field(default=None, max_length=50)
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone name")
    hours: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False),
                                  description="weekday -> [open, close] local, or null")
    capacity: int = Field(default=1, description="bays: appointments that may overlap")
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class Appointment(AppointmentsTable, table=True):
    """A booked hour at a location. ``end_time`` is always ``start_time`` + 60 minutes."""

    __tablename__ = "appointments"
    __table_args__ = (
        # Availability and booking read a location's appointments by start time.
        Index("ix_appointments_location_start", "location_id", "start_time"),
        # Upcoming: a user's appointments by start time.
        Index("ix_appointments_user_start", "user_id", "start_time"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(max_length=64)
    vehicle_id: str = Field(max_length=64)
    location_id: str = Field(sa_column=Column(String(36), ForeignKey("locations.id"),
                                              nullable=False))
    start_time: datetime = Field(sa_column=timestamp_column())
    end_time: datetime = Field(sa_column=timestamp_column())
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=SCHEDULED, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    cancelled_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))


location_days = Table(
    "location_days",
    AppointmentsTable.metadata,
    Column("location_id", String(36), ForeignKey("locations.id"), primary_key=True),
    Column("day", Date, primary_key=True, comment="the location's local date"),
)
"""One row per (location, local date) that has had a booking: the row bookings lock."""

vehicle_owners = VehicleOwners(AppointmentsTable.metadata)
event_tables = define_event_tables(AppointmentsTable.metadata)
