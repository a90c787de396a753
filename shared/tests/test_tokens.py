"""Access-token verification: what the gateway and every service accept and refuse."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from shared.tokens import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    AccessTokenVerifier,
    InvalidToken,
    JwksSource,
    Principal,
    static_jwks_source,
)


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY = _rsa_key()
OTHER_KEY = _rsa_key()


def _jwk(private_key: Any, kid: str) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
        jwk["alg"] = "RS256"
    else:
        jwk = json.loads(OKPAlgorithm.to_jwk(private_key.public_key()))
        jwk["alg"] = "EdDSA"
    jwk.update(kid=kid, use="sig")
    return jwk


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "role": "member", "tier": "plus", "iat": now,
              "exp": now + 3600, "jti": str(uuid.uuid4()), "typ": "access",
              "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def _token(key: Any = KEY, kid: str | None = "k1", alg: str = "RS256", **claims: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(_claims(**claims), key, algorithm=alg, headers=headers)


class CountingSource:
    def __init__(self, jwks: dict[str, Any], delay: float = 0.0) -> None:
        self.jwks = jwks
        self.calls = 0
        self.delay = delay

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.jwks


def _verifying(source: JwksSource, **kwargs: Any) -> AccessTokenVerifier:
    """A verifier of the platform's issuer and audience (the settings' defaults)."""
    return AccessTokenVerifier(source, **{"issuer": DEFAULT_ISSUER,
                                          "audience": DEFAULT_AUDIENCE, **kwargs})


def _verifier(*keys: tuple[Any, str], **kwargs: Any) -> AccessTokenVerifier:
    jwks = {"keys": [_jwk(k, kid) for k, kid in keys or ((KEY, "k1"),)]}
    return _verifying(static_jwks_source(jwks), **kwargs)


async def test_valid_access_token_gives_principal() -> None:
    user_id = str(uuid.uuid4())
    principal = await _verifier().verify(_token(sub=user_id, role="admin", tier=None, jti="j1"))
    assert isinstance(principal, Principal)
    assert (principal.user_id, principal.role, principal.tier, principal.token_id) == (
        user_id, "admin", None, "j1")


async def test_eddsa_tokens_are_accepted() -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate()
    verifier = _verifier((ed_key, "ed"))
    principal = await verifier.verify(_token(ed_key, kid="ed", alg="EdDSA", tier="elite"))
    assert principal.tier == "elite"


async def test_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await _verifier().verify(_token(OTHER_KEY))


async def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "k1"}).encode())
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode())
    token = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    with pytest.raises(InvalidToken):
        await _verifier().verify(token)


async def test_hs256_signed_with_public_key_is_refused() -> None:
    # The classic algorithm-confusion attack: HMAC keyed with the public key's bytes.
    token = jwt.encode(_claims(), "a-secret-made-from-the-public-key-bytes", algorithm="HS256",
                       headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        await _verifier().verify(token)


async def test_expired_token_is_refused() -> None:
    past = int(time.time()) - 3600
    with pytest.raises(InvalidToken, match="expired"):
        await _verifier().verify(_token(iat=past - 60, exp=past))


async def test_expiry_within_leeway_is_tolerated() -> None:
    await _verifier(leeway=5).verify(_token(exp=int(time.time()) - 2))


async def test_refresh_token_is_not_an_access_token() -> None:
    with pytest.raises(InvalidToken):
        await _verifier().verify(_token(typ="refresh"))


async def test_token_without_typ_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await _verifier().verify(_token(typ=...))


@pytest.mark.parametrize(("claims", "message"), [
    ({"iss": "https://someone-else.example"}, "issuer"),
    ({"iss": ...}, "iss"),
    ({"aud": "another-platform"}, "audience"),
    ({"aud": ["another-platform", "a-third"]}, "audience"),
    ({"aud": ...}, "aud"),
])
async def test_a_token_of_another_issuer_or_audience_is_refused(claims, message) -> None:
    with pytest.raises(InvalidToken, match=message):
        await _verifier().verify(_token(**claims))


async def test_the_issuer_and_audience_are_the_verifiers_own() -> None:
    verifier = _verifier(issuer="https://auth.example", audience="example-api")
    await verifier.verify(_token(iss="https://auth.example", aud=["example-api", "other"]))
    with pytest.raises(InvalidToken):
        await verifier.verify(_token())


async def test_token_without_kid_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await _verifier().verify(_token(kid=None))


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "Bearer x", "ey.ey.ey", "..."])
async def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        await _verifier().verify(garbage)


async def test_disallowed_algorithm_is_refused() -> None:
    verifier = _verifier(algorithms=("EdDSA",))
    with pytest.raises(InvalidToken):
        await verifier.verify(_token())


async def test_none_can_never_be_configured() -> None:
    with pytest.raises(ValueError):
        _verifier(algorithms=("RS256", "none"))


async def test_keys_are_fetched_once_and_cached() -> None:
    source = CountingSource({"keys": [_jwk(KEY, "k1")]})
    verifier = _verifying(source)
    for _ in range(3):
        await verifier.verify(_token())
    assert source.calls == 1


async def test_unknown_kid_triggers_one_refresh_and_finds_rotated_key() -> None:
    source = CountingSource({"keys": [_jwk(KEY, "k1")]})
    verifier = _verifying(source, min_refresh_interval=0)
    await verifier.verify(_token())
    source.jwks = {"keys": [_jwk(KEY, "k1"), _jwk(OTHER_KEY, "k2")]}
    principal = await verifier.verify(_token(OTHER_KEY, kid="k2"))
    assert principal.role == "member"
    assert source.calls == 2


async def test_unknown_kid_refreshes_are_rate_limited() -> None:
    source = CountingSource({"keys": [_jwk(KEY, "k1")]})
    verifier = _verifying(source, min_refresh_interval=60)
    await verifier.verify(_token())
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await verifier.verify(_token(OTHER_KEY, kid=f"made-up-{uuid.uuid4()}"))
    assert source.calls == 1


async def test_concurrent_refreshes_are_coalesced() -> None:
    source = CountingSource({"keys": [_jwk(KEY, "k1")]}, delay=0.05)
    verifier = _verifying(source)
    results = await asyncio.gather(*(verifier.verify(_token()) for _ in range(20)))
    assert len(results) == 20
    assert source.calls == 1


async def test_jwks_source_failure_is_invalid_token() -> None:
    async def broken() -> dict[str, Any]:
        raise OSError("auth is down")

    with pytest.raises(InvalidToken):
        await _verifying(broken).verify(_token())


async def test_cached_token_still_expires() -> None:
    now = [time.time()]
    verifier = _verifier(leeway=0, clock=lambda: now[0])
    token = _token(exp=int(now[0]) + 10)
    await verifier.verify(token)
    await verifier.verify(token)
    now[0] += 20
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_verified_cache_is_bounded() -> None:
    verifier = _verifier(cache_size=3)
    for _ in range(10):
        await verifier.verify(_token())
    assert len(verifier._verified) == 3
