"""referral_codes.registered_at: when each code's owner registered.

A code's owner may attach only a user who registered less than 24 hours ago
(``engagement.newcomers``). Users learnt before this column are left NULL, "not known":
nothing here says when they registered, so a code's owner cannot attach them (they can
still apply a code themselves).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("referral_codes",
                  sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral_codes") as batch:
        batch.drop_column("registered_at")
