"""Routes under ``/api/referrals/``: the caller's code and referrals, applying a code."""

from __future__ import annotations

from fastapi import APIRouter

from engagement import referrals
from engagement.api.deps import SettingsDep
from engagement.own_code import own_referral_code
from engagement.schemas import ApplyIn, CodeValidOut, ReferralInfoOut, ReferralOut
from shared.auth import CurrentPrincipal
from shared.deps import AuthorizationDep, DbSession, OutboxDep, PeersDep

router = APIRouter(prefix="/api/referrals", tags=["referrals"])


@router.get("/me/", response_model=ReferralInfoOut)
async def my_referrals(principal: CurrentPrincipal, session: DbSession, outbox: OutboxDep,
                       settings: SettingsDep, authorization: AuthorizationDep,
                       peers: PeersDep) -> ReferralInfoOut:
    """The caller's code, its link, and the referrals where the caller is the referrer."""
    code = await own_referral_code(session, outbox, principal.user_id, auth=peers["auth"],
                                   authorization=authorization,
                                   timeout_s=settings.peer_timeout_seconds)
    rows = await referrals.referrals_by(session, principal.user_id)
    return ReferralInfoOut(code=code, link=f"{settings.referral_link_base.rstrip('/')}/{code}",
                           referrals=[ReferralOut.of(row) for row in rows])


@router.post("/apply/", response_model=ReferralOut | CodeValidOut)
async def apply_code(body: ApplyIn, principal: CurrentPrincipal, session: DbSession,
                     outbox: OutboxDep, settings: SettingsDep) -> ReferralOut | CodeValidOut:
    """Without ``newUserId``: whether the code exists. With it: that user's referral."""
    if body.new_user_id is None:
        await referrals.check_code(session, body.code)
        return CodeValidOut(code=referrals.normalise_code(body.code))
    row = await referrals.apply_code(
        session, outbox, caller_id=principal.user_id, code=body.code,
        new_user_id=body.new_user_id,
        newcomer_wait_seconds=settings.referral_newcomer_wait_seconds)
    return ReferralOut.of(row)
