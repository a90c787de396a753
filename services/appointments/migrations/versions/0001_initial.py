"""Locations, appointments, per-location-day lock rows, vehicle owners, event tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_event_tables
from shared.projections.vehicle_owners import create_vehicle_owners_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("vehicle_id", sa.String(64), nullable=False),
        sa.Column("location_id", sa.String(36), sa.ForeignKey("locations.id"), nullable=False),
        sa.Column("start_time", TS, nullable=False),
        sa.Column("end_time", TS, nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
    )
    # Availability and booking: a location's appointments in a time range.
    op.create_index("ix_appointments_location_start", "appointments",
                    ["location_id", "start_time"])
    # Upcoming: a user's appointments by start time.
    op.create_index("ix_appointments_user_start", "appointments", ["user_id", "start_time"])
    op.create_table(
        "location_days",
        sa.Column("location_id", sa.String(36), sa.ForeignKey("locations.id"),
                  primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
    )
    create_vehicle_owners_table(op)
    create_event_tables(op)


def downgrade() -> None:
    for table in ("vehicle_owners", "location_days", "appointments", "locations"):
        op.drop_table(table)
