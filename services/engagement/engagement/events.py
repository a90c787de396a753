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
  ownership (``shared.vehicle_ownership``).

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
from shared.events import Event, Outbox, SessionHandler

PRODUCER = "engagement"

outbox = Outbox(event_tables, producer=PRODUCER)
"""Where handlers stage what they publish, in the transaction that applies the event."""


async def on_user_registered(session: AsyncSession, event: Event) -> None:
    """Learn the user's code; record who referred them, if anyone."""
    user_id = str(event.data["userId"])
    await learn_code(session, outbox, user_id, str(event.data["referralCode"]),
                     registered_at=event.occurred_at)
    referred_by = event.data.get("referredByCode")
    if referred_by:
        await record_referral(session, outbox, referred_user_id=user_id, code=str(referred_by))


async def on_membership_activated(session: AsyncSession, event: Event) -> None:
    """The user has a tier now, and their referral (if any) is due for credit."""
    user_id = str(event.data["userId"])
    await record_membership_event(session, user_id, **_membership(event), active=True)
    await credit_referral_of(session, outbox, user_id)


async def on_membership_cancelled(session: AsyncSession, event: Event) -> None:
    """The user has no tier any more (a credited referral stays credited)."""
    await record_membership_event(session, str(event.data["userId"]), **_membership(event),
                                  active=False)


async def on_location_saved(session: AsyncSession, event: Event) -> None:
    """A location was created or changed (name, coordinates)."""
    data = event.data
    await record_location(session, str(data["locationId"]), name=str(data.get("name") or ""),
                          lat=_coordinate(data.get("lat")), lng=_coordinate(data.get("lng")),
                          occurred_at=event.occurred_at)


def _membership(event: Event) -> dict[str, Any]:
    return {"membership_id": str(event.data.get("membershipId") or ""),
            "tier": event.data.get("tier"), "occurred_at": event.occurred_at}


def _coordinate(value: object) -> float | None:
    """A finite number, else unknown (a location without coordinates is never near)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


CONSUMERS: dict[str, dict[str, SessionHandler]] = {
    "engagement.users": {"user.registered": on_user_registered},
    "engagement.memberships": {"membership.activated": on_membership_activated,
                               "membership.cancelled": on_membership_cancelled},
    "engagement.locations": {"location.created": on_location_saved,
                             "location.updated": on_location_saved},
    "engagement.vehicles": vehicle_owners.handlers,
}
