"""Vehicle ownership projection, telemetry batches, samples, active DTCs, event tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.migrations import create_event_tables
from shared.projections.vehicle_owners import create_vehicle_owners_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    create_vehicle_owners_table(op)
    op.create_table(
        "telemetry_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("vehicle_id", sa.String(64), nullable=False),
        sa.Column("start_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("end_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        # The dedupe, race-safe: a second insert of the same batch conflicts.
        sa.UniqueConstraint("vehicle_id", "start_timestamp", "end_timestamp",
                            name="uq_batches_vehicle_window"),
        sa.UniqueConstraint("vehicle_id", "idempotency_key", name="uq_batches_vehicle_key"),
    )
    op.create_table(
        "samples",
        sa.Column("vehicle_id", sa.String(64), nullable=False),
        sa.Column("t", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("fuel_rate", sa.Float(), nullable=True),
        sa.Column("odometer", sa.Float(), nullable=True),
        sa.Column("rpm", sa.Float(), nullable=True),
        sa.Column("coolant_temp", sa.Float(), nullable=True),
        sa.Column("extra", JSONB() if postgres else sa.JSON(), nullable=True),
    )
    # Per-vehicle time ranges (pages, summaries, trips).
    op.create_index("ix_samples_vehicle_t", "samples", ["vehicle_id", "t"])
    if postgres:
        # Samples arrive roughly in time order: a BRIN on t is tiny and lets time-wide
        # scans (retention, exports) skip most of the table.
        op.execute("CREATE INDEX ix_samples_t_brin ON samples USING brin (t)")
    op.create_table(
        "vehicle_dtcs",
        sa.Column("vehicle_id", sa.String(64), primary_key=True),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("as_of", sa.BigInteger(), nullable=False),
    )
    create_event_tables(op)


def downgrade() -> None:
    for table in ("vehicle_dtcs", "samples", "telemetry_batches", "vehicle_owners"):
        op.drop_table(table)
