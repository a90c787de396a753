"""What engagement knows about each user's membership: a projection of auth's events.

``membership.activated`` / ``membership.cancelled`` may arrive late, twice or out of
order (a retried delivery goes to the back of its queue), so a row keeps the
``occurredAt`` of the event it reflects and only a newer event replaces it. Whether the
user *ever* activated a membership is kept apart and only ever turns true: it is what
credits a referral, whatever order the events come in.

The row is also the per-user lock of referral crediting (see ``engagement.referrals``):
every path that may credit the referral of a user upserts that user's row first, so two
transactions deciding about the same user (the referral being recorded, the membership
being activated) run one after the other instead of each missing the other's write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from engagement.models import memberships
from shared.statements import run, upsert

_c = memberships.c


async def record_membership_event(session: AsyncSession, user_id: str, *, membership_id: str,
                                  tier: str | None, active: bool,
                                  occurred_at: datetime) -> bool:
    """Apply one membership event (newer events win); returns whether the user ever
    activated a membership. Takes the user's crediting lock."""
    stmt = upsert(session, memberships).values(
        user_id=user_id, membership_id=membership_id, tier=tier, active=active,
        as_of=occurred_at, ever_activated=active)
    newer = or_(_c.as_of.is_(None), stmt.excluded.as_of > _c.as_of)

    def if_newer(column: str) -> ColumnElement[object]:
        return case((newer, stmt.excluded[column]), else_=_c[column])

    stmt = stmt.on_conflict_do_update(index_elements=["user_id"], set_={
        "membership_id": if_newer("membership_id"), "tier": if_newer("tier"),
        "active": if_newer("active"), "as_of": if_newer("as_of"),
        "ever_activated": _c.ever_activated | stmt.excluded.ever_activated,
    }).returning(_c.ever_activated)
    return bool((await run(session, stmt)).scalar_one())


async def lock_member(session: AsyncSession, user_id: str) -> bool:
    """Take the user's crediting lock (creating the row if needed); returns whether the
    user ever activated a membership, as committed by whoever held the lock before."""
    stmt = upsert(session, memberships).values(user_id=user_id)
    stmt = stmt.on_conflict_do_update(index_elements=["user_id"],
                                      set_={"user_id": stmt.excluded.user_id})
    return bool((await run(session, stmt.returning(_c.ever_activated))).scalar_one())


async def effective_tier(session: AsyncSession, user_id: str,
                         token_tier: str | None) -> str | None:
    """The tier that decides which offers the user sees (None: no membership).

    The projection wins once it has seen a membership event for the user: it follows
    activations and cancellations within moments, while an access token's ``tier`` may
    be up to an hour old (a member who cancelled keeps it until the token expires).
    Before any event for the user has arrived, the token's ``tier`` is all there is.
    """
    row = (await run(session, select(_c.tier, _c.active, _c.as_of)
                     .where(_c.user_id == user_id))).first()
    if row is None or row.as_of is None:
        return token_tier
    return str(row.tier) if row.active and row.tier else None
