"""Vehicles (one VIN per owner, one vehicle per dongle), event tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vehicles",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("vin", sa.String(17), nullable=False),
        sa.Column("make", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("trim", sa.String(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("license_plate", sa.String(), nullable=True),
        sa.Column("odometer", sa.Float(), nullable=False),
        sa.Column("dongle_id", sa.String(100), nullable=True),
        sa.Column("dongle_connection_type", sa.String(), nullable=True),
        sa.Column("fuel_type", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # Enforced by the database so that concurrent requests cannot both win;
        # the service turns a violation into 409.
        sa.UniqueConstraint("user_id", "vin", name="uq_vehicles_user_vin"),
        sa.UniqueConstraint("dongle_id", name="uq_vehicles_dongle_id"),
    )
    create_event_tables(op)


def downgrade() -> None:
    op.drop_table("vehicles")
