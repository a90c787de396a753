"""Issuing access and refresh tokens, and rotating refresh tokens.

Access tokens are short-lived RS256 JWTs checked by anyone holding the JWKS.
Refresh tokens are JWTs too, but each one is also a row: using it marks it
used and issues the next in the same family; presenting a used one again
means it was stolen, so the whole family is revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import Table, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.keys import KeyPair, SigningKeys
from auth.models import Membership, RefreshToken, User
from auth.settings import AuthSettings
from shared.errors import Unauthorized
from shared.models import utcnow
from shared.pruning import PruneRule

INVALID_REFRESH = "Invalid refresh token"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str


class TokenIssuer:
    """Signs tokens with the service's key and keeps the refresh-token ledger."""

    def __init__(self, settings: AuthSettings, keys: SigningKeys) -> None:
        self.settings = settings
        self.keys = keys

    @staticmethod
    def _sign(key: KeyPair, claims: dict[str, object]) -> str:
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    async def _active_tier(self, session: AsyncSession, user: User) -> str | None:
        membership = (await session.exec(select(Membership).where(
            Membership.user_id == user.id, Membership.status == "active"))).first()
        return membership.tier if membership else None

    async def issue(self, session: AsyncSession, user: User, *, family_id: str | None = None,
                    device_id: str | None = None) -> TokenPair:
        """A new access token and a new refresh token (staged; the caller commits)."""
        now = utcnow()
        key = await self.keys.signing(session)
        access = self._sign(key, {
            "sub": user.id, "role": user.role, "tier": await self._active_tier(session, user),
            "typ": "access", "jti": str(uuid.uuid4()), "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience, "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.settings.access_token_ttl_seconds))
                       .timestamp()),
        })
        row = RefreshToken(
            jti=str(uuid.uuid4()), user_id=user.id, family_id=family_id or str(uuid.uuid4()),
            device_id=device_id,
            expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_seconds))
        session.add(row)
        refresh = self._sign(key, {
            "sub": user.id, "typ": "refresh", "jti": row.jti, "fam": row.family_id,
            "iss": self.settings.jwt_issuer, "aud": self.settings.jwt_audience,
            "iat": int(now.timestamp()), "exp": int(row.expires_at.timestamp()),
        })
        return TokenPair(access, refresh)

    async def _refresh_claims(self, session: AsyncSession, token: str) -> dict[str, object]:
        """The claims of a refresh token this service signed, with any key it still keeps."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self.keys.verifying(session, kid) if isinstance(kid, str) else None
            if key is None:
                raise Unauthorized(INVALID_REFRESH)
            claims = jwt.decode(token, key.public_key, algorithms=["RS256"],
                                issuer=self.settings.jwt_issuer,
                                audience=self.settings.jwt_audience,
                                options={"require": ["exp", "jti", "sub", "typ", "iss",
                                                     "aud"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized(INVALID_REFRESH) from exc
        if claims.get("typ") != "refresh":
            raise Unauthorized(INVALID_REFRESH)
        return claims

    async def rotate(self, session: AsyncSession, token: str) -> TokenPair:
        """Trade a refresh token for a new pair; reuse of a spent token revokes its family."""
        claims = await self._refresh_claims(session, token)
        result = await session.exec(
            update(RefreshToken)
            .where(col(RefreshToken.jti) == claims["jti"], col(RefreshToken.used_at).is_(None),
                   col(RefreshToken.revoked_at).is_(None),
                   col(RefreshToken.expires_at) > utcnow())
            .values(used_at=utcnow()))
        row = await session.get(RefreshToken, str(claims["jti"]))
        if result.rowcount != 1 or row is None:  # type: ignore[attr-defined]
            if row is not None and row.used_at is not None:
                await self.revoke_family(session, row.family_id)
                await session.commit()
            raise Unauthorized(INVALID_REFRESH)
        user = await session.get(User, row.user_id)
        if user is None:
            raise Unauthorized(INVALID_REFRESH)
        pair = await self.issue(session, user, family_id=row.family_id, device_id=row.device_id)
        await session.commit()
        return pair

    async def revoke_family(self, session: AsyncSession, family_id: str) -> None:
        """Revoke every token descended from the same login."""
        await session.exec(update(RefreshToken)
                              .where(col(RefreshToken.family_id) == family_id,
                                     col(RefreshToken.revoked_at).is_(None))
                              .values(revoked_at=utcnow()))

    async def revoke(self, session: AsyncSession, token: str, user_id: str) -> None:
        """Log out: revoke the refresh token's family if it belongs to ``user_id``."""
        try:
            claims = await self._refresh_claims(session, token)
        except Unauthorized:
            return  # an unusable token is already as good as revoked
        row = await session.get(RefreshToken, str(claims["jti"]))
        if row is not None and row.user_id == user_id:
            await self.revoke_family(session, row.family_id)
            await session.commit()


async def revoke_sessions(session: AsyncSession, user_id: str) -> None:
    """Revoke every refresh token of ``user_id`` (staged; the caller commits)."""
    await session.exec(update(RefreshToken)
                          .where(col(RefreshToken.user_id) == user_id,
                                 col(RefreshToken.revoked_at).is_(None))
                          .values(revoked_at=utcnow()))


def spent_refresh_tokens(retention: timedelta) -> PruneRule:
    """Refresh-token rows that can matter to no request any more, ``retention`` after that.

    An expired token is refused by its own ``exp`` claim before the ledger is read. A
    revoked token was revoked with its whole family, so presenting it again answers
    "invalid" whether its row is there or not.

    A used token is *not* removable until it expires: its row is what detects reuse.
    Pruned earlier, a stolen token presented after the victim rotated it (or the
    victim's copy presented after the thief did) would answer a plain "invalid" and
    leave the family, the thief's live token included, unrevoked.
    """
    table: Table = RefreshToken.__table__  # type: ignore[attr-defined]
    return PruneRule(table, retention, lambda cutoff: or_(
        table.c.expires_at < cutoff, table.c.revoked_at < cutoff))
