"""Events the auth service consumes. (It publishes ``user.registered``,
``membership.activated`` and ``membership.cancelled`` from ``users`` and
``memberships`` through the outbox.)"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from auth.users import credit_referral
from shared.contracts.engagement import ReferralCreditedV1
from shared.events import Event


async def on_referral_credited(session: AsyncSession, event: Event) -> None:
    """``referral.credited``: the referrer earns one free month, once per referral."""
    credited = ReferralCreditedV1.of(event)
    await credit_referral(session, credited.referral_id, credited.referrer_user_id)


CONSUMERS = {"auth.referral-credited": {"referral.credited": on_referral_credited}}
