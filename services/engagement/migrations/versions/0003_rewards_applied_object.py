"""referrals.rewards_applied: a JSON object (what crediting applied) instead of a flag.

CONTRACT.md's ``rewardsApplied`` is ``{}`` until the referral is credited, then what was
applied, e.g. ``{"rewardsBalance": 1}``. Rows credited under the flag (``true``) get the
one reward crediting has ever given: one month on the referrer's ``rewardsBalance``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CREDITED = {"rewardsBalance": 1}

referrals = sa.table("referrals", sa.column("status", sa.String()),
                     sa.column("rewards_applied", sa.Boolean()),
                     sa.column("rewards_applied_flag", sa.Boolean()),
                     sa.column("rewards_applied_object", sa.JSON()))


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table, PostgreSQL runs the plain ALTERs.
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("rewards_applied_object", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
    op.execute(referrals.update().where(referrals.c.rewards_applied == sa.true())
               .values(rewards_applied_object=CREDITED))
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("rewards_applied")
        batch.alter_column("rewards_applied_object", new_column_name="rewards_applied")


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("rewards_applied_flag", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # PostgreSQL's json type has no equality: the status says the same as the object.
    op.execute(referrals.update().where(referrals.c.status == "credited")
               .values(rewards_applied_flag=True))
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("rewards_applied")
        batch.alter_column("rewards_applied_flag", new_column_name="rewards_applied")
