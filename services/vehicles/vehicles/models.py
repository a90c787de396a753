"""The vehicles service's tables. It owns vehicles (with their dongle link)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Float, String, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.events import define_event_tables
from shared.models import new_id, utcnow

VIN_PER_OWNER = "uq_vehicles_user_vin"
"""One owner registers a VIN once; another owner may register the same VIN."""
ONE_VEHICLE_PER_DONGLE = "uq_vehicles_dongle_id"
"""A dongle is linked to at most one vehicle, whoever owns it (NULLs do not collide)."""




class VehiclesTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, apart from other services'."""


class Vehicle(VehiclesTable, table=True):
    __tablename__ = "vehicles"
    __table_args__ = (
        UniqueConstraint("user_id", "vin", name=VIN_PER_OWNER),
        UniqueConstraint("dongle_id", name=ONE_VEHICLE_PER_DONGLE),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(index=True, max_length=36)
    vin: str = Field(sa_column=Column(String(17), nullable=False))
    make: str
    model: str
    trim: str | None = None
    year: int
    license_plate: str | None = None
    odometer: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    dongle_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    dongle_connection_type: str | None = None
    fuel_type: str | None = None
    created_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))


event_tables = define_event_tables(VehiclesTable.metadata)
