"""The auth service's tables. It owns users, sessions, keys, plans and memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import JSON, Field, SQLModel

from shared.events import define_event_tables
from shared.models import new_id, timestamp_column, utcnow


class AuthTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, apart from other services'."""


class User(AuthTable, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    email: str = Field(sa_column=Column(String(254), unique=True, nullable=False))
    password_hash: str
    name: str = ""
    phone: str | None = None
    role: str = "member"
    referral_code: str = Field(sa_column=Column(String(10), unique=True, nullable=False))
    referred_by_code: str | None = None
    membership_id: str | None = None
    rewards_balance: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class RefreshToken(AuthTable, table=True):
    """One issued refresh token. Rotation marks it used; reuse revokes its family."""

    __tablename__ = "refresh_tokens"
    # The pruner's queries (auth.tokens.spent_refresh_tokens).
    __table_args__ = (Index("ix_refresh_tokens_expires_at", "expires_at"),
                      Index("ix_refresh_tokens_revoked_at", "revoked_at"))

    jti: str = Field(primary_key=True, max_length=36)
    user_id: str = Field(index=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    device_id: str | None = None
    issued_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    expires_at: datetime = Field(sa_column=timestamp_column())
    used_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class SigningKey(AuthTable, table=True):
    """A generated signing key, stored so every auth process signs with the same one.

    The key without ``replaced_at`` signs; a replaced one still verifies the tokens it
    signed until they expire (auth.keys). The database holds at most one key that is not
    replaced, so auth processes started together cannot each pick their own.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (Index("one_signing_key", text("(replaced_at IS NULL)"), unique=True,
                            postgresql_where=text("replaced_at IS NULL"),
                            sqlite_where=text("replaced_at IS NULL")),)

    kid: str = Field(primary_key=True, max_length=64)  # auth.keys.MAX_KID_LENGTH
    private_pem: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    replaced_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class Plan(AuthTable, table=True):
    __tablename__ = "plans"

    id: str = Field(primary_key=True, max_length=36)
    name: str
    tier: str = Field(sa_column=Column(String(20), unique=True, nullable=False))
    price_monthly: int
    features: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Membership(AuthTable, table=True):
    __tablename__ = "memberships"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(index=True, max_length=36)
    plan_id: str = Field(max_length=36)
    tier: str
    status: str = "active"
    started_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    next_billing_at: datetime | None = Field(default=None,
                                             sa_column=timestamp_column(nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class CreditedReferral(AuthTable, table=True):
    """Referrals already paid out: a second event for the same referral changes nothing."""

    __tablename__ = "credited_referrals"
    __table_args__ = (UniqueConstraint("referral_id"),)

    referral_id: str = Field(primary_key=True, max_length=36)
    referrer_user_id: str = Field(max_length=36)
    credited_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


event_tables = define_event_tables(AuthTable.metadata)
