"""The engagement service's tables.

It owns offers and referrals, and keeps local projections of what it needs from other
services, fed by their events (CONTRACT.md, "Events"):

- ``memberships``: each user's latest membership (tier, active) from auth's
  ``membership.activated`` / ``membership.cancelled``, and whether the user ever
  activated one (what credits a referral);
- ``referral_codes``: whose code is whose, and when its owner registered, from auth's
  ``user.registered``;
- ``locations``: where appointments' locations are, from ``location.created`` /
  ``location.updated``;
- ``vehicle_owners``: who owns a vehicle, from ``vehicle.*``
  (``shared.projections.vehicle_owners``).

Offers are a small admin-curated catalogue, kept as ORM rows. The referral tables and the
projections are Core tables: they are written with upserts and guarded updates, the
statements that keep concurrent event deliveries from racing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.events import define_event_tables
from shared.models import new_id, timestamp_column, utcnow
from shared.projections.vehicle_owners import VehicleOwners

TIERS = ("basic", "plus", "premium", "elite")
"""Membership tiers, as auth's plans name them."""

REFERRAL_STATUSES = ("invited", "signed_up", "credited")
"""``invited`` is part of the contract's vocabulary; no flow of this service produces it."""

ONE_REFERRAL_PER_USER = "uq_referrals_referred_user"
"""A user is referred once: the first referral recorded for them is the one that counts."""


class EngagementTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, apart from other services'."""


class Offer(EngagementTable, table=True):
    """An offer. Empty ``eligible_memberships``: for everyone; empty ``locations``: anywhere."""

    __tablename__ = "offers"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    title: str = Field(max_length=200)
    description: str = ""
    terms: str = ""
    expiry: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    eligible_memberships: list[str] = Field(default_factory=list,
                                            sa_column=Column(JSON, nullable=False))
    locations: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


metadata = EngagementTable.metadata

referrals = Table(
    "referrals",
    metadata,
    Column("id", String(36), primary_key=True, default=new_id),
    # NULL while the code's owner is unknown here (their user.registered has not arrived,
    # or predates this service); filled in when the code is learnt (referral_codes).
    Column("referrer_user_id", String(64), nullable=True),
    Column("referred_user_id", String(64), nullable=False),
    Column("code", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    # What crediting gave the referrer, as the contract shows it: {} until credited.
    Column("rewards_applied", JSON, nullable=False, server_default=text("'{}'")),
    Column("created_at", DateTime(timezone=True), nullable=False, default=utcnow),
    Column("credited_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("referred_user_id", name=ONE_REFERRAL_PER_USER),
    Index("ix_referrals_referrer", "referrer_user_id", "created_at"),
    Index("ix_referrals_code", "code"),
)
"""One row per referred user; ``status`` moves ``signed_up`` -> ``credited`` once."""

referral_codes = Table(
    "referral_codes",
    metadata,
    Column("code", String(32), primary_key=True),
    # NULL: a code seen in a referral before its owner's user.registered.
    Column("user_id", String(64), nullable=True, unique=True),
    # When the owner registered (their user.registered's occurredAt, or auth's createdAt
    # when learnt from auth); NULL: not known (learnt before this column existed).
    Column("registered_at", DateTime(timezone=True), nullable=True),
)
"""Projection of ``user.registered``: the owner of each referral code, and when they
registered (who counts as a newcomer a code's owner may attach, ``engagement.newcomers``)."""

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("membership_id", String(64), nullable=True),
    Column("tier", String(16), nullable=True),
    Column("active", Boolean, nullable=False, server_default=false()),
    # occurredAt of the membership event the row reflects; NULL: none seen yet (the row
    # was only made as the lock that serialises crediting for this user).
    Column("as_of", DateTime(timezone=True), nullable=True),
    Column("ever_activated", Boolean, nullable=False, server_default=false()),
)
"""Projection of ``membership.*``: each user's latest membership, and whether they ever
had one. The row is also the per-user lock every crediting path takes first."""

locations = Table(
    "locations",
    metadata,
    Column("location_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("lat", Float, nullable=True),
    Column("lng", Float, nullable=True),
    Column("as_of", DateTime(timezone=True), nullable=False),
)
"""Projection of ``location.*``: where each of appointments' locations is."""

vehicle_owners = VehicleOwners(metadata)
"""Projection of ``vehicle.*``: who owns a vehicle (for ``GET /api/offers/?vehicleId=``)."""

event_tables = define_event_tables(metadata)
