"""Access-token verification, used by the gateway and by every service.

Access tokens are asymmetric JWTs (RS256 or EdDSA) issued by the auth service;
the public keys come from its JWK set (``/api/auth/jwks/``). Keys are cached by
``kid``; a token signed with an unknown ``kid`` triggers one JWKS refresh (at
most one per ``min_refresh_interval`` seconds, concurrent refreshes share one
fetch), so key rotation needs no restart and a flood of made-up ``kid`` values
cannot turn into a flood of JWKS requests.

A token must name the platform's auth as its issuer (``iss``) and the platform as its
audience (``aud``): a token that another system signed, even with a key that somehow
found its way into the JWK set, or one minted for another audience, is refused.

Tokens that verified once are kept in a small bounded cache until they expire:
the hot path of the gateway then costs a dict lookup instead of an RSA check.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt.algorithms import get_default_algorithms

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_ISSUER",
    "AccessTokenVerifier",
    "InvalidToken",
    "JwksSource",
    "Principal",
    "http_jwks_source",
    "static_jwks_source",
]

DEFAULT_ISSUER = "membership-auto-auth"
"""``iss`` of the auth service's tokens (``JWT_ISSUER``, the same value everywhere)."""
DEFAULT_AUDIENCE = "membership-auto"
"""``aud`` of the auth service's tokens (``JWT_AUDIENCE``, the same value everywhere)."""

JwksSource = Callable[[], Awaitable[dict]]
"""An async callable returning a JWK set ``{"keys": [...]}``."""


@dataclass(frozen=True)
class Principal:
    """Who a verified access token speaks for."""

    user_id: str
    role: str
    tier: str | None
    token_id: str
    expires_at: int


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or not an access token."""


def http_jwks_source(url: str, client: httpx.AsyncClient | None = None,
                     *, timeout: float = 5.0) -> JwksSource:
    """A :data:`JwksSource` that GETs ``url`` (with ``client`` when given)."""

    async def fetch() -> dict:
        if client is not None:
            response = await client.get(url, timeout=timeout)
        else:
            async with httpx.AsyncClient(timeout=timeout) as own_client:
                response = await own_client.get(url)
        response.raise_for_status()
        return response.json()

    return fetch


def static_jwks_source(jwks: dict) -> JwksSource:
    """A :data:`JwksSource` that always returns ``jwks`` (tests, single-process setups)."""

    async def fetch() -> dict:
        return jwks

    return fetch


_ALGORITHM_IMPLS = get_default_algorithms()


class AccessTokenVerifier:
    """Verifies access tokens against a JWK set, caching keys and verified tokens."""

    def __init__(
        self,
        source: JwksSource,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str] = ("RS256", "EdDSA"),
        min_refresh_interval: float = 5.0,
        leeway: float = 5.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._issuer = issuer
        self._audience = audience
        self._algorithms = tuple(algorithms)
        if "none" in (a.lower() for a in self._algorithms):
            raise ValueError("the 'none' algorithm can never be allowed")
        self._min_refresh_interval = min_refresh_interval
        self._leeway = leeway
        self._cache_size = cache_size
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._last_refresh = float("-inf")
        self._refresh_task: asyncio.Future[None] | None = None
        self._verified: OrderedDict[str, Principal] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """Return the token's :class:`Principal` or raise :class:`InvalidToken`."""
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at + self._leeway > self._clock():
                return cached
            self._verified.pop(token, None)
            raise InvalidToken("Token has expired")

        if not token or not isinstance(token, str):
            raise InvalidToken("Missing token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("Malformed token") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise InvalidToken("Token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("Token has no key id")

        key = await self._key_for(kid, alg)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                leeway=self._leeway,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "typ", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("Token has expired") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"Token has no {exc.claim} claim") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("Token issuer not accepted") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("Token audience not accepted") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("Invalid token") from exc

        principal = _principal_from(claims)
        self._remember(token, principal)
        return principal

    async def refresh(self) -> None:
        """Fetch the JWK set now (coalesced with any refresh already running)."""
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.ensure_future(self._do_refresh())
        await asyncio.shield(self._refresh_task)

    async def _key_for(self, kid: str, alg: str) -> Any:
        key = self._keys.get(kid)
        if key is None:
            running = self._refresh_task is not None and not self._refresh_task.done()
            if running or self._clock() - self._last_refresh >= self._min_refresh_interval:
                try:
                    await self.refresh()
                except Exception as exc:  # the key source is down: the token can't be checked
                    raise InvalidToken("Signing keys unavailable") from exc
                key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("Unknown signing key")
        expected = _family(alg)
        if expected is not None and not isinstance(key, expected):
            raise InvalidToken("Token algorithm does not match its key")
        return key

    async def _do_refresh(self) -> None:
        self._last_refresh = self._clock()
        jwks = await self._source()
        keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            kid = jwk.get("kid")
            if not kid or jwk.get("use", "sig") != "sig":
                continue
            impl_name = jwk.get("alg") or {"RSA": "RS256", "OKP": "EdDSA", "EC": "ES256"}.get(
                jwk.get("kty", ""))
            impl = _ALGORITHM_IMPLS.get(impl_name or "")
            if impl is None:
                continue
            try:
                keys[kid] = impl.from_jwk(json.dumps(jwk))
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue
        self._keys = keys
        # Keys may have been withdrawn: forget what they verified.
        self._verified.clear()

    def _remember(self, token: str, principal: Principal) -> None:
        verified = self._verified
        verified[token] = principal
        if len(verified) > self._cache_size:
            verified.popitem(last=False)


def _family(alg: str) -> tuple[type, ...] | None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    if alg.startswith(("RS", "PS")):
        return (rsa.RSAPublicKey,)
    if alg.startswith("ES"):
        return (ec.EllipticCurvePublicKey,)
    if alg == "EdDSA":
        return (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)
    return None


def _principal_from(claims: dict[str, Any]) -> Principal:
    if claims.get("typ") != "access":
        raise InvalidToken("Not an access token")
    sub = claims.get("sub")
    exp = claims.get("exp")
    if not isinstance(sub, str) or not sub or not isinstance(exp, int | float):
        raise InvalidToken("Invalid token claims")
    role = claims.get("role") or "member"
    tier = claims.get("tier")
    return Principal(
        user_id=sub,
        role=str(role),
        tier=str(tier) if tier is not None else None,
        token_id=str(claims.get("jti") or ""),
        expires_at=int(exp),
    )
