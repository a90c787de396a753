"""Offers, referrals, the projections (referral codes, memberships, locations, vehicle
owners), event tables.

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


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("terms", sa.String(), nullable=False),
        sa.Column("expiry", sa.DateTime(timezone=True), nullable=True),
        sa.Column("eligible_memberships", sa.JSON(), nullable=False),
        sa.Column("locations", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("referrer_user_id", sa.String(64), nullable=True),
        sa.Column("referred_user_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rewards_applied", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        # The database enforces "referred once", so two concurrent recordings cannot both
        # insert; the loser finds the winner's row.
        sa.UniqueConstraint("referred_user_id", name="uq_referrals_referred_user"),
    )
    op.create_index("ix_referrals_referrer", "referrals", ["referrer_user_id", "created_at"])
    op.create_index("ix_referrals_code", "referrals", ["code"])
    op.create_table(
        "referral_codes",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=True, unique=True),
    )
    op.create_table(
        "memberships",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("membership_id", sa.String(64), nullable=True),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ever_activated", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "locations",
        sa.Column("location_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    create_vehicle_owners_table(op)
    create_event_tables(op)


def downgrade() -> None:
    for table in ("vehicle_owners", "locations", "memberships", "referral_codes", "referrals",
                  "offers"):
        op.drop_table(table)
