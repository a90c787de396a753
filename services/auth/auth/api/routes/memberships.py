"""Routes under ``/api/memberships/``: plans, activate, current, cancel."""

from __future__ import annotations

from fastapi import APIRouter

from auth import memberships
from auth.api.deps import CurrentUser, SettingsDep
from auth.schemas import MembershipIn, MembershipOut, PlanOut
from shared.deps import DbSession, OutboxDep

router = APIRouter(prefix="/api/memberships", tags=["memberships"])


@router.get("/plans/", response_model=list[PlanOut])
async def plans(session: DbSession) -> list[PlanOut]:
    return [PlanOut.model_validate(plan) for plan in await memberships.list_plans(session)]


@router.post("/", status_code=201, response_model=MembershipOut)
async def activate(body: MembershipIn, user: CurrentUser, session: DbSession,
                   outbox: OutboxDep, settings: SettingsDep) -> MembershipOut:
    membership = await memberships.activate(session, outbox, user, body.plan_id,
                                            billing_days=settings.membership_billing_days)
    return MembershipOut.model_validate(membership)


@router.get("/me/", response_model=MembershipOut)
async def my_membership(user: CurrentUser, session: DbSession) -> MembershipOut:
    return MembershipOut.model_validate(await memberships.current_membership(session, user.id))


@router.post("/me/cancel/", response_model=MembershipOut)
async def cancel(user: CurrentUser, session: DbSession, outbox: OutboxDep) -> MembershipOut:
    return MembershipOut.model_validate(await memberships.cancel(session, outbox, user))
