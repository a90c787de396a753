"""The stored keys: which one signs, which ones verify, rotation, retirement.

See the package's docstring for why it is safe against concurrent start-ups and why a
rotation logs nobody out.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Table, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.keys.pairs import MAX_KID_LENGTH, KeyPair, generate_private_pem, key_pair
from auth.models import SigningKey
from auth.settings import AuthSettings
from shared.db import Database
from shared.models import utcnow
from shared.pruning import PruneRule

RETIREMENT_MARGIN = timedelta(minutes=5)
"""How much longer than its tokens a replaced key is kept: clock skew, verifiers' leeway."""


def publication_period(settings: AuthSettings) -> timedelta:
    """How long a replaced key stays in the JWK set: until its access tokens expired."""
    return timedelta(seconds=settings.access_token_ttl_seconds) + RETIREMENT_MARGIN


def keeping_period(settings: AuthSettings) -> timedelta:
    """How long a replaced key is stored: until every token it signed, refresh tokens
    included, has expired."""
    longest = max(settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds)
    return timedelta(seconds=longest) + RETIREMENT_MARGIN


class SigningKeys:
    """The keys as one auth process sees them: read from the database, parsed once."""

    def __init__(self, settings: AuthSettings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._configured: KeyPair | None = None
        self._parsed: dict[str, KeyPair] = {}

    async def start(self) -> None:
        """At start-up: load the configured key, or make sure a stored key signs."""
        pem = await _configured_pem(self._settings)
        if pem is None:
            await self._ensure_stored()
            return
        self._configured = await asyncio.to_thread(key_pair, pem, self._settings.jwt_key_id)
        # The configured key replaces the stored one, whose tokens verify until they expire.
        async with self._database.session() as session:
            await _replace_signing_key(session)
            await session.commit()

    async def signing(self, session: AsyncSession) -> KeyPair:
        """The key that signs now."""
        if self._configured is not None:
            return self._configured
        row = await _signing_row(session)
        if row is None:  # deleted by hand since start-up: the next one is made as at start
            await self._ensure_stored()
            row = await _signing_row(session)
        if row is None:
            raise RuntimeError("no signing key is stored, and none could be stored")
        return await self._parse(row)

    async def verifying(self, session: AsyncSession, kid: str) -> KeyPair | None:
        """The key ``kid`` names, if it is the configured one or still stored."""
        if self._configured is not None and kid == self._configured.kid:
            return self._configured
        # A kid from a token's header is anyone's: one no row can hold is not looked up.
        if len(kid) > MAX_KID_LENGTH or not kid.isprintable():
            return None
        row = await session.get(SigningKey, kid)
        return await self._parse(row) if row is not None else None

    async def published(self, session: AsyncSession) -> list[KeyPair]:
        """The keys of the JWK set: the signing key, and the replaced ones whose access
        tokens may not have expired yet; newest first."""
        cutoff = utcnow() - publication_period(self._settings)
        rows = (await session.exec(
            select(SigningKey)
            .where(or_(col(SigningKey.replaced_at).is_(None),
                       col(SigningKey.replaced_at) > cutoff))
            .order_by(col(SigningKey.created_at).desc()))).all()
        stored = [await self._parse(row) for row in rows]
        if self._configured is None:
            return stored
        return [self._configured, *(pair for pair in stored if pair.kid != self._configured.kid)]

    async def _parse(self, row: SigningKey) -> KeyPair:
        pair = self._parsed.get(row.kid)
        if pair is None:
            pair = await asyncio.to_thread(key_pair, row.private_pem, row.kid)
            self._parsed[row.kid] = pair
        return pair

    async def _ensure_stored(self) -> None:
        async with self._database.session() as session:
            if await _signing_row(session) is not None:
                return
            session.add(await _new_key())
            try:
                await session.commit()
            except IntegrityError:  # another process stored one first: that one signs
                await session.rollback()


async def _configured_pem(settings: AuthSettings) -> str | None:
    if settings.jwt_private_key:
        return settings.jwt_private_key
    if settings.jwt_private_key_file:
        return await asyncio.to_thread(Path(settings.jwt_private_key_file).read_text)
    return None


async def _signing_row(session: AsyncSession) -> SigningKey | None:
    return (await session.exec(select(SigningKey).where(
        col(SigningKey.replaced_at).is_(None)))).first()


async def _new_key() -> SigningKey:
    # Generating an RSA key takes tens of milliseconds of CPU: not on the event loop.
    pem = await asyncio.to_thread(generate_private_pem)
    pair = await asyncio.to_thread(key_pair, pem)
    return SigningKey(kid=pair.kid, private_pem=pem)


async def _replace_signing_key(session: AsyncSession) -> None:
    await session.exec(update(SigningKey).where(col(SigningKey.replaced_at).is_(None))
                       .values(replaced_at=utcnow()))


async def rotate(session: AsyncSession) -> tuple[str, str | None]:
    """Replace the signing key by a new one (commits); the new kid and the replaced one.

    Raises ``IntegrityError`` when another rotation committed meanwhile (that one won).
    """
    key = await _new_key()  # before the transaction's first write, which it would prolong
    replaced = await _signing_row(session)
    await _replace_signing_key(session)
    session.add(key)
    await session.commit()
    return key.kid, replaced.kid if replaced is not None else None


def retired_signing_keys(settings: AuthSettings) -> PruneRule:
    """Replaced keys whose every token, refresh tokens included, has expired."""
    table: Table = SigningKey.__table__  # type: ignore[attr-defined]
    return PruneRule(table, keeping_period(settings),
                     lambda cutoff: table.c.replaced_at < cutoff)
