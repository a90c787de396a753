"""Referrals: who referred whom, and crediting the referrer exactly once.

A referral is recorded ``signed_up`` when a user registers with someone's code (the
``user.registered`` event) or applies one (``POST /api/referrals/apply/``). It becomes
``credited`` once the referred user has activated a membership, in whichever order the
two facts arrive, and that transition stages one ``referral.credited`` event for auth.

Why it cannot credit twice or miss a credit:

- the transition is a guarded ``UPDATE ... WHERE status <> 'credited'``: of any number of
  concurrent attempts exactly one changes the row, and only that one stages the event;
- every path that may credit a user's referral first takes that user's lock
  (``memberships.lock_member`` / ``record_membership_event`` upsert the user's row), so
  "record the referral, then look for an activation" and "record the activation, then
  look for a referral" never both run on a snapshot that lacks the other's write;
- a referral whose code's owner is not known yet (their ``user.registered`` has not
  arrived, or predates this service) is kept with no referrer and credited as soon as
  the owner becomes known (``learn_code``). Code rows are locked before member rows,
  member rows before referral rows, on every path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from engagement.memberships import lock_member
from engagement.models import referral_codes, referrals
from engagement.newcomers import is_newcomer
from shared.contracts.engagement import ReferralCreditedV1
from shared.errors import BadRequest, Conflict, Forbidden
from shared.events import Outbox
from shared.models import new_id, utcnow
from shared.statements import run, upsert

INVALID_CODE = "Invalid referral code"
SELF_REFERRAL = "You cannot use your own referral code"
NOT_YOURS = "You can apply a referral code only for yourself or with your own code"
NOT_A_NEWCOMER = ("A code's owner can attach only a user who registered less than 24 hours "
                  "ago and has never activated a membership")
ALREADY_REFERRED = "This user has already been referred with another code"
REWARD_MONTHS = 1
REWARDS_APPLIED = {"rewardsBalance": REWARD_MONTHS}
"""A credited referral's ``rewardsApplied``: the referrer's balance went up by one month."""

_r = referrals.c
_codes = referral_codes.c


def normalise_code(code: str) -> str:
    """Codes are compared as auth issues them: upper case, no surrounding blanks."""
    return code.strip().upper()


async def owner_of_code(session: AsyncSession, code: str) -> str | None:
    """The user whose referral code this is, if known here."""
    return (await run(session, select(_codes.user_id).where(_codes.code == code))).scalar()


async def code_of(session: AsyncSession, user_id: str) -> str | None:
    """The user's own referral code, if known here."""
    return (await run(session, select(_codes.code).where(_codes.user_id == user_id))).scalar()


async def _lock_code(session: AsyncSession, code: str) -> str | None:
    """Lock the code's row (made, owner unknown, if new); returns its owner."""
    stmt = upsert(session, referral_codes).values(code=code, user_id=None)
    stmt = stmt.on_conflict_do_update(index_elements=["code"],
                                      set_={"code": stmt.excluded.code})
    return (await run(session, stmt.returning(_codes.user_id))).scalar()


async def learn_code(session: AsyncSession, outbox: Outbox, user_id: str, code: str,
                     registered_at: datetime | None) -> None:
    """Remember that ``code`` is ``user_id``'s (who registered at ``registered_at``, if
    known), and complete the referrals that waited for it: they get their referrer, and
    are credited if the referred user already activated."""
    code = normalise_code(code)
    stmt = upsert(session, referral_codes).values(code=code, user_id=user_id,
                                                  registered_at=registered_at)
    await run(session, stmt.on_conflict_do_update(index_elements=["code"], set_={
        "user_id": func.coalesce(_codes.user_id, user_id),
        "registered_at": func.coalesce(_codes.registered_at, stmt.excluded.registered_at)}))
    waiting = (await run(session, select(_r.id, _r.referred_user_id).where(
        _r.code == code, _r.referrer_user_id.is_(None),
        _r.referred_user_id != user_id))).all()
    for referral in waiting:
        activated = await lock_member(session, referral.referred_user_id)
        await run(session, update(referrals).where(
            _r.id == referral.id, _r.referrer_user_id.is_(None)).values(
            referrer_user_id=user_id))
        if activated:
            await credit_referral_of(session, outbox, referral.referred_user_id)


async def record_referral(session: AsyncSession, outbox: Outbox, *, referred_user_id: str,
                          code: str) -> Row[Any] | None:
    """Record that ``referred_user_id`` signed up with ``code`` unless they already have a
    referral (the first one counts); credit it at once if they already activated a
    membership. Returns their referral, or None for a self-referral (nothing recorded)."""
    code = normalise_code(code)
    referrer = await _lock_code(session, code)
    if referrer == referred_user_id:
        return None
    activated = await lock_member(session, referred_user_id)
    insert = upsert(session, referrals).values(
        id=new_id(), referrer_user_id=referrer, referred_user_id=referred_user_id, code=code,
        status="signed_up", rewards_applied={}, created_at=utcnow())
    await run(session, insert.on_conflict_do_nothing(index_elements=["referred_user_id"]))
    if activated:
        await credit_referral_of(session, outbox, referred_user_id)
    return await referral_of(session, referred_user_id)


async def credit_referral_of(session: AsyncSession, outbox: Outbox,
                             referred_user_id: str) -> bool:
    """Credit the referral of ``referred_user_id`` if it is due and not credited yet, and
    stage ``referral.credited`` in the same transaction; returns whether this call did."""
    credited = (await run(session, update(referrals).where(
        _r.referred_user_id == referred_user_id, _r.status != "credited",
        _r.referrer_user_id.is_not(None),
    ).values(status="credited", rewards_applied=REWARDS_APPLIED,
             credited_at=utcnow()).returning(_r.id, _r.referrer_user_id))).first()
    if credited is None:
        return False
    await outbox.add(session, ReferralCreditedV1(
        referral_id=credited.id, referrer_user_id=credited.referrer_user_id,
        referred_user_id=referred_user_id, reward=REWARD_MONTHS))
    return True


async def referral_of(session: AsyncSession, referred_user_id: str) -> Row[Any] | None:
    """The referral of a referred user, if any."""
    return (await run(session, select(referrals).where(
        _r.referred_user_id == referred_user_id))).first()


async def referrals_by(session: AsyncSession, referrer_user_id: str) -> list[Row[Any]]:
    """The referrals where the user is the referrer, newest first."""
    return list((await run(session, select(referrals).where(
        _r.referrer_user_id == referrer_user_id).order_by(
        _r.created_at.desc(), _r.id))).all())


async def check_code(session: AsyncSession, code: str) -> str:
    """The owner of ``code``, or ``400 Invalid referral code``."""
    owner = await owner_of_code(session, normalise_code(code))
    if owner is None:
        raise BadRequest(INVALID_CODE)
    return owner


async def apply_code(session: AsyncSession, outbox: Outbox, *, caller_id: str, code: str,
                     new_user_id: str, newcomer_wait_seconds: float) -> Row[Any]:
    """``POST /api/referrals/apply/`` with ``newUserId``: record (or return) the referral of
    ``new_user_id`` by ``code``, and commit.

    The new user may do it, and the code's owner for a newcomer (``engagement.newcomers``,
    waiting up to ``newcomer_wait_seconds`` for a user not heard of yet); anyone else is a
    403. One's own code is a 400; a user already referred with another code is a 409 (the
    first referral stands).
    """
    code = normalise_code(code)
    owner = await check_code(session, code)
    if caller_id != new_user_id:
        if caller_id != owner:
            raise Forbidden(NOT_YOURS)
        if not await is_newcomer(session, new_user_id, wait_seconds=newcomer_wait_seconds):
            raise Forbidden(NOT_A_NEWCOMER)
    if owner == new_user_id:
        raise BadRequest(SELF_REFERRAL)
    referral = await record_referral(session, outbox, referred_user_id=new_user_id, code=code)
    if referral is None or referral.code != code:
        raise Conflict(ALREADY_REFERRED)
    await session.commit()
    return referral
