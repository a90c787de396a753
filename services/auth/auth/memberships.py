"""Plans and memberships: activate, look up, cancel."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.models import Membership, Plan, User
from shared.contracts.auth import MembershipActivatedV1, MembershipCancelledV1
from shared.errors import Conflict, NotFound
from shared.events import Outbox
from shared.models import utcnow


async def list_plans(session: AsyncSession) -> list[Plan]:
    """Every plan, cheapest first."""
    return list((await session.exec(select(Plan).order_by(col(Plan.price_monthly)))).all())


async def active_membership(session: AsyncSession, user_id: str) -> Membership | None:
    """The user's active membership, if any."""
    return (await session.exec(select(Membership).where(
        Membership.user_id == user_id, Membership.status == "active"))).first()


async def current_membership(session: AsyncSession, user_id: str) -> Membership:
    """The active membership, else the most recent one, else 404."""
    membership = await active_membership(session, user_id)
    if membership is None:
        membership = (await session.exec(
            select(Membership).where(Membership.user_id == user_id)
            .order_by(col(Membership.started_at).desc()))).first()
    if membership is None:
        raise NotFound("Membership not found")
    return membership


async def activate(session: AsyncSession, outbox: Outbox, user: User, plan_id: str, *,
                   billing_days: int) -> Membership:
    """Start a membership on ``plan_id`` and stage ``membership.activated``."""
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("Plan not found")
    if await active_membership(session, user.id) is not None:
        raise Conflict("Membership already active")
    now = utcnow()
    membership = Membership(user_id=user.id, plan_id=plan.id, tier=plan.tier, started_at=now,
                            next_billing_at=now + timedelta(days=billing_days))
    session.add(membership)
    user.membership_id = membership.id
    session.add(user)
    await outbox.add(session, MembershipActivatedV1(
        user_id=user.id, membership_id=membership.id, tier=plan.tier))
    await session.commit()
    return membership


async def cancel(session: AsyncSession, outbox: Outbox, user: User) -> Membership:
    """Cancel the active membership and stage ``membership.cancelled``."""
    membership = await active_membership(session, user.id)
    if membership is None:
        raise NotFound("Membership not found")
    membership.status = "cancelled"
    membership.cancelled_at = utcnow()
    membership.next_billing_at = None
    session.add(membership)
    await outbox.add(session, MembershipCancelledV1(
        user_id=user.id, membership_id=membership.id, tier=membership.tier))
    await session.commit()
    return membership
