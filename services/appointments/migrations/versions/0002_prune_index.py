"""Index processed_events.processed_at, for the background pruner (shared.pruning).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op

from shared.migrations import index_processed_events_for_pruning

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_processed_events_for_pruning(op)


def downgrade() -> None:
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
