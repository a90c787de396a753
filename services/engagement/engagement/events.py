"""Events of the engagement service.

Consumed, each queue applying an event once (``shared.events.IdempotentConsumer``):

- ``engagement.users``: ``user.registered`` ``{userId, email, name, referralCode,
  referredByCode}`` — remember the user's code and when they registered (the event's
  ``occurredAt``); with ``referredByCode``, record the ``signed_up`` referral (a
  self-referral is ignored);
- ``engagement.memberships``: ``membership.activated`` / ``membership.cancelled``
  ``{userId, membershipId, tier}`` — the tier projection; an activation credits the
  user's referral;
- ``engagement.locations``: ``location.created`` / ``location.updated``
  ``{locationId, lat, lng, name}`` — where offers' locations are;
- ``engagement.vehicles``: ``vehicle.created`` / ``updated`` / ``deleted`` — vehicle
  ownership (``shared.projections.vehicle_owners``).

Published through the outbox by ``engagement.referrals``, in the crediting transaction:
``referral.credited`` ``{referralId, referrerUserId, referredUserId, reward}``, once per
referral.
"""

from __future__ import annotations

import math
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from engagement.locations import record_location
from engagement.memberships import record_membership_event
from engagement.models import event_tables, vehicle_owners
from engagement.referrals import credit_referral_of, learn_code, record_referral
from shared.contracts.appointments import LocationContract
from shared.contracts.auth import (
    MembershipActivatedV1,
    MembershipCancelledV1,
    MembershipContract,
    UserRegisteredV1,
)
from shared.events import Event, Outbox, SessionHandler

PRODUCER = "engagement"

outbox = Outbox(event_tables, producer=PRODUCER)
"""Where handlers stage what they publish, in the transaction that applies the event."""


async def on_user_registered(session: AsyncSession, event: Event) -> None:
    """Learn the user's code; record who referred them, if anyone."""
    user = UserRegisteredV1.of(event)
    await learn_code(session, outbox, user.user_id, user.referral_code,
                     registered_at=event.occurred_at)
    if user.referred_by_code:
        await record_referral(session, outbox, referred_user_id=user.user_id,
                              code=user.referred_by_code)


async def on_membership_activated(session: AsyncSession, event: Event) -> None:
    """The user has a tier now, and their referral (if any) is due for credit."""
    membership = MembershipActivatedV1.of(event)
    await record_membership_event(session, membership.user_id,
                                  **_membership(membership, event), active=True)
    await credit_referral_of(session, outbox, membership.user_id)


async def on_membership_cancelled(session: AsyncSession, event: Event) -> None:
    """The user has no tier any more (a credited referral stays credited)."""
    membership = MembershipCancelledV1.of(event)
    await record_membership_event(session, membership.user_id,
                                  **_membership(membership, event), active=False)


async def on_location_saved(session: AsyncSession, event: Event) -> None:
    """A location was created or changed (name, coordinates)."""
    location = LocationContract.of(event)
    await record_location(session, location.location_id, name=location.name,
                          lat=_coordinate(location.lat), lng=_coordinate(location.lng),
                          occurred_at=event.occurred_at)


def _membership(membership: MembershipContract, event: Event) -> dict[str, Any]:
    return {"membership_id": membership.membership_id, "tier": membership.tier,
            "occurred_at": event.occurred_at}


def _coordinate(value: float | None) -> float | None:
    """A finite number, else unknown (a location without coordinates is never near)."""
    return value if value is not None and math.isfinite(value) else None


CONSUMERS: dict[str, dict[str, SessionHandler]] = {
    "engagement.users": {"user.registered": on_user_registered},
    "engagement.memberships": {"membership.activated": on_membership_activated,
                               "membership.cancelled": on_membership_cancelled},
    "engagement.locations": {"location.created": on_location_saved,
                             "location.updated": on_location_saved},
    "engagement.vehicles": vehicle_owners.handlers,
}
