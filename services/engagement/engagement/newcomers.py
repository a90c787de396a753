"""Whom a code's owner may attach to their code: newcomers only.

``POST /api/referrals/apply/`` with ``newUserId`` is open to the new user themselves, and
to the code's owner for a user who registered less than 24 hours ago and has never
activated a membership (CONTRACT.md). Without that limit an owner could claim any
member who was never referred, long-standing ones included, and be credited the next
time they activate a membership.

Both facts come from this service's projections: when the user registered from
``user.registered`` (``referral_codes.registered_at``), whether they ever activated a
membership from ``membership.*`` (``memberships.ever_activated``). A user who registered
a moment ago may not be in the projection yet (their event is on its way): the owner's
request then waits for it, up to ``REFERRAL_NEWCOMER_WAIT_SECONDS``, without holding a
transaction. A user still unknown after that, or whose registration time is not known
(learnt before this service kept it), is not shown to be a newcomer: ``403``. An
activation whose event has not arrived yet cannot be seen; the referral is then credited
when it arrives, as for an activation just after the attachment.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlmodel.ext.asyncio.session import AsyncSession

from engagement.models import memberships, referral_codes
from shared.models import utcnow
from shared.statements import run

NEWCOMER_WINDOW = timedelta(hours=24)
"""How recently a user must have registered for a code's owner to attach them."""

_FIRST_POLL_SECONDS = 0.05
_MAX_POLL_SECONDS = 0.5


async def _registration(session: AsyncSession, user_id: str) -> Row[Any] | None:
    """The user's row in the ``user.registered`` projection; None: not heard of yet."""
    return (await run(session, select(referral_codes.c.registered_at).where(
        referral_codes.c.user_id == user_id))).first()


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite keeps no offset; stored in UTC
        return value.replace(tzinfo=UTC)
    return value


async def ever_activated(session: AsyncSession, user_id: str) -> bool:
    """Whether a ``membership.activated`` for the user has arrived here."""
    activated = (await run(session, select(memberships.c.ever_activated).where(
        memberships.c.user_id == user_id))).scalar()
    return bool(activated)


async def is_newcomer(session: AsyncSession, user_id: str, *, wait_seconds: float) -> bool:
    """Whether ``user_id`` registered less than :data:`NEWCOMER_WINDOW` ago and never
    activated a membership. Waits up to ``wait_seconds`` for an unknown user's
    ``user.registered``; ends the session's transaction while it waits."""
    deadline = time.monotonic() + wait_seconds
    delay = _FIRST_POLL_SECONDS
    while (registration := await _registration(session, user_id)) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        await session.rollback()  # no transaction (nor connection) held while waiting
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, _MAX_POLL_SECONDS)
    registered = _utc(registration.registered_at)
    if registered is None or utcnow() - registered >= NEWCOMER_WINDOW:
        return False
    return not await ever_activated(session, user_id)
