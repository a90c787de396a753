"""Users, refresh tokens, signing keys, plans (seeded), memberships, event tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

PLANS = [
    ("6b1f6c8e-0a1d-4c51-9d57-2f3b0c9a0001", "Basic", "basic", 59,
     ["Oil change every 6 months", "Multi-point inspection", "Roadside assistance"]),
    ("6b1f6c8e-0a1d-4c51-9d57-2f3b0c9a0002", "Plus", "plus", 79,
     ["Everything in Basic", "Tire rotation", "Brake inspection", "10% off repairs"]),
    ("6b1f6c8e-0a1d-4c51-9d57-2f3b0c9a0003", "Premium", "premium", 99,
     ["Everything in Plus", "Priority booking", "Loaner vehicle", "20% off repairs"]),
    ("6b1f6c8e-0a1d-4c51-9d57-2f3b0c9a0004", "Elite", "elite", 159,
     ["Everything in Premium", "Pickup and delivery", "Detailing twice a year",
      "30% off repairs"]),
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("referral_code", sa.String(10), nullable=False, unique=True),
        sa.Column("referred_by_code", sa.String(), nullable=True),
        sa.Column("membership_id", sa.String(), nullable=True),
        sa.Column("rewards_balance", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("jti", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("family_id", sa.String(36), nullable=False, index=True),
        sa.Column("device_id", sa.String(), nullable=True),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    plans = op.create_table(
        "plans",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False, unique=True),
        sa.Column("price_monthly", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
    )
    op.bulk_insert(plans, [
        {"id": id_, "name": name, "tier": tier, "price_monthly": price, "features": features}
        for id_, name, tier, price, features in PLANS
    ])
    op.create_table(
        "memberships",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("next_billing_at", TS, nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
    )
    # At most one active membership per user, enforced by the database.
    op.create_index("one_active_membership", "memberships", ["user_id"], unique=True,
                    postgresql_where=sa.text("status = 'active'"),
                    sqlite_where=sa.text("status = 'active'"))
    op.create_table(
        "credited_referrals",
        sa.Column("referral_id", sa.String(36), primary_key=True),
        sa.Column("referrer_user_id", sa.String(36), nullable=False),
        sa.Column("credited_at", TS, nullable=False),
    )
    create_event_tables(op)


def downgrade() -> None:
    for table in ("credited_referrals", "memberships", "plans", "signing_keys",
                  "refresh_tokens", "users"):
        op.drop_table(table)
