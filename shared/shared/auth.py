"""FastAPI dependencies for the caller's identity.

Services verify the bearer token themselves (same JWKS as the gateway): a
header the gateway could have been bypassed to forge is never trusted.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.errors import Forbidden, Unauthorized
from shared.tokens import AccessTokenVerifier, InvalidToken, Principal


def bearer_token(request: Request) -> str | None:
    """The token from ``Authorization: Bearer <token>``, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """The verified caller, or 401."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Authentication credentials were not provided")
    verifier: AccessTokenVerifier = request.app.state.verifier
    try:
        return await verifier.verify(token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc) or "Invalid token") from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str):  # noqa: ANN201 - a FastAPI dependency factory
    """A dependency that lets only the given roles through (403 otherwise)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden("You do not have permission to perform this action")
        return principal

    return Depends(check)
