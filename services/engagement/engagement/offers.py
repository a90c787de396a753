"""Offers: the admin-managed catalogue, and which offers a member sees where.

The catalogue is small (curated by hand), so a listing reads the offers that have not
expired in one query and applies the tier and distance rules in Python, with one more
query for the coordinates of the locations involved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from engagement.geo import Point, distance_km
from engagement.locations import positions
from engagement.models import Offer
from shared.errors import NotFound
from shared.models import utcnow

NEARBY_KM = 50.0
"""An offer tied to a location at most this far from the given point is "nearby"."""

OFFER_NOT_FOUND = "Offer not found"


async def create_offer(session: AsyncSession, fields: dict[str, Any]) -> Offer:
    """Store a new offer (``fields`` by attribute name, validated) and commit."""
    offer = Offer(**fields)
    session.add(offer)
    await session.commit()
    return offer


async def get_offer(session: AsyncSession, offer_id: str) -> Offer:
    """The offer with this id, or 404."""
    offer = await session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(OFFER_NOT_FOUND)
    return offer


async def update_offer(session: AsyncSession, offer: Offer, changes: dict[str, Any]) -> Offer:
    """Apply the sent fields (validated) and commit."""
    for field, value in changes.items():
        setattr(offer, field, value)
    session.add(offer)
    await session.commit()
    return offer


async def delete_offer(session: AsyncSession, offer: Offer) -> None:
    """Remove the offer and commit."""
    await session.delete(offer)
    await session.commit()


def is_eligible(offer: Offer, tier: str | None) -> bool:
    """Whether a member of ``tier`` (None: no membership) may see the offer."""
    return not offer.eligible_memberships or tier in offer.eligible_memberships


async def visible_offers(session: AsyncSession, *, tier: str | None, near: Point | None = None,
                         now: datetime | None = None) -> list[Offer]:
    """The offers a member of ``tier`` sees: not expired, eligible for the tier.

    Without ``near``: newest first. With it: first the offers tied to at least one
    location within ``NEARBY_KM`` (nearest such location first, then newest), then the
    offers tied to no location (newest first); offers tied only to farther locations,
    or to locations whose coordinates are unknown here, are left out.
    """
    now = now or utcnow()
    query = (select(Offer).where(or_(col(Offer.expiry).is_(None), col(Offer.expiry) > now))
             .order_by(col(Offer.created_at).desc(), col(Offer.id)))
    offers = [offer for offer in (await session.exec(query)).all() if is_eligible(offer, tier)]
    if near is None:
        return offers
    known = await positions(session, {place for offer in offers for place in offer.locations})
    nearby: list[tuple[float, int, Offer]] = []
    anywhere: list[Offer] = []
    for rank, offer in enumerate(offers):
        if not offer.locations:
            anywhere.append(offer)
            continue
        distances = [distance_km(near, known[place]) for place in offer.locations
                     if place in known]
        closest = min(distances, default=None)
        if closest is not None and closest <= NEARBY_KM:
            nearby.append((closest, rank, offer))
    nearby.sort(key=lambda item: item[:2])
    return [offer for _, _, offer in nearby] + anywhere
