"""Routes under ``/api/auth/``: register, login, tokens, profile, roles, JWKS."""

from __future__ import annotations

from fastapi import APIRouter, Response

from auth import users
from auth.api.deps import CurrentUser, Issuer, Keys, PasswordsDep
from auth.keys import jwks
from auth.schemas import (
    JwksOut,
    LoginIn,
    ProfilePatch,
    RefreshIn,
    RegisterIn,
    RoleIn,
    SessionOut,
    TokensOut,
    UserOut,
)
from shared.auth import require_role
from shared.deps import DbSession, OutboxDep, ReadSession

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register/", status_code=201, response_model=SessionOut)
async def register(body: RegisterIn, session: DbSession, outbox: OutboxDep,
                   passwords: PasswordsDep, issuer: Issuer) -> SessionOut:
    user = await users.register(session, outbox, passwords, email=body.email,
                                password=body.password, name=body.name, phone=body.phone,
                                referral_code=body.referral_code)
    tokens = await issuer.issue(session, user)
    await session.commit()
    return SessionOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                      user=UserOut.model_validate(user))


@router.post("/login/", response_model=SessionOut)
async def login(body: LoginIn, session: DbSession, passwords: PasswordsDep,
                issuer: Issuer) -> SessionOut:
    user = await users.authenticate(session, passwords, body.email, body.password)
    tokens = await issuer.issue(session, user, device_id=body.device_id)
    await session.commit()
    return SessionOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                      user=UserOut.model_validate(user))


@router.post("/refresh/", response_model=TokensOut)
async def refresh(body: RefreshIn, session: DbSession, issuer: Issuer) -> TokensOut:
    tokens = await issuer.rotate(session, body.refresh_token)
    return TokensOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


@router.post("/logout/", status_code=204, response_class=Response)
async def logout(body: RefreshIn, user: CurrentUser, session: DbSession,
                 issuer: Issuer) -> Response:
    await issuer.revoke(session, body.refresh_token, user.id)
    return Response(status_code=204)


@router.get("/me/", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.patch("/me/", response_model=UserOut)
async def update_me(body: ProfilePatch, user: CurrentUser, session: DbSession) -> UserOut:
    changes = body.model_dump(exclude_unset=True)
    return UserOut.model_validate(await users.update_profile(session, user, changes))


@router.get("/jwks/", response_model=JwksOut)
async def get_jwks(keys: Keys, session: ReadSession) -> JwksOut:
    return JwksOut.model_validate(jwks(*await keys.published(session)))


@router.post("/users/{user_id}/role/", response_model=UserOut,
             dependencies=[require_role("admin")])
async def change_role(user_id: str, body: RoleIn, session: DbSession) -> UserOut:
    return UserOut.model_validate(await users.set_role(session, user_id, body.role))
