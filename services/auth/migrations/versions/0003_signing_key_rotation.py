"""Signing-key rotation: a key is replaced, not deleted; at most one key signs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOT_REPLACED = sa.text("replaced_at IS NULL")


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("replaced_at", TS, nullable=True))
    # Until now every process signed with the oldest key; any other row is one that
    # lost a start-up race, and may have signed tokens since: it is replaced now, and
    # verifies them until they expire.
    keys = sa.table("signing_keys", sa.column("kid", sa.String()),
                    sa.column("created_at", TS), sa.column("replaced_at", TS))
    oldest = sa.select(keys.c.kid).order_by(keys.c.created_at).limit(1).scalar_subquery()
    op.execute(keys.update().where(keys.c.kid != oldest).values(replaced_at=datetime.now(UTC)))
    op.create_index("one_signing_key", "signing_keys", [sa.text("(replaced_at IS NULL)")],
                    unique=True, postgresql_where=NOT_REPLACED, sqlite_where=NOT_REPLACED)


def downgrade() -> None:
    op.drop_index("one_signing_key", table_name="signing_keys")
    op.drop_column("signing_keys", "replaced_at")
