"""Dependencies specific to the auth service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from auth.keys import SigningKeys
from auth.models import User
from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import TokenIssuer
from shared.auth import CurrentPrincipal
from shared.deps import DbSession, get_settings
from shared.errors import Unauthorized


def get_issuer(request: Request) -> TokenIssuer:
    issuer: TokenIssuer = request.app.state.issuer
    return issuer


def get_keys(request: Request) -> SigningKeys:
    keys: SigningKeys = request.app.state.keys
    return keys


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_current_user(principal: CurrentPrincipal, session: DbSession) -> User:
    """The caller's user row as stored now (role and tier as of now, not as of the token)."""
    user = await session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized("User no longer exists")
    return user


Issuer = Annotated[TokenIssuer, Depends(get_issuer)]
Keys = Annotated[SigningKeys, Depends(get_keys)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
SettingsDep = Annotated[AuthSettings, Depends(get_settings)]
CurrentUser = Annotated[User, Depends(get_current_user)]
