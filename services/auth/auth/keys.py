"""The RS256 signing key: configured (env or file), or generated once and stored.

Storing a generated key in the service's own database means every auth
process signs with the same key and tokens survive a restart.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.models import SigningKey
from auth.settings import AuthSettings


@dataclass(frozen=True)
class KeyPair:
    """A private key for signing and its public JWK for verifying."""

    kid: str
    private_pem: str
    # Parsed once: PyJWT handed the PEM parses and checks the key on every signature
    # (measured: about 40 ms of CPU, two signatures per login or registration).
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    public_jwk: dict[str, Any]


def _key_pair(private_pem: str, kid: str = "") -> KeyPair:
    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("the signing key must be an RSA private key (RS256)")
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    if not kid:
        # RFC 7638 thumbprint: a stable id derived from the public key itself.
        canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).digest()
        kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:32]
    jwk.update(kid=kid, use="sig", alg="RS256")
    return KeyPair(kid=kid, private_pem=private_pem, private_key=private_key,
                   public_key=private_key.public_key(), public_jwk=jwk)


def generate_private_pem() -> str:
    """A new 2048-bit RSA private key in PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


async def load_signing_key(settings: AuthSettings, session: AsyncSession) -> KeyPair:
    """The configured key if there is one, else the stored one (generated on first start)."""
    if settings.jwt_private_key:
        return _key_pair(settings.jwt_private_key, settings.jwt_key_id)
    if settings.jwt_private_key_file:
        pem = await asyncio.to_thread(Path(settings.jwt_private_key_file).read_text)
        return _key_pair(pem, settings.jwt_key_id)
    stored = (await session.exec(select(SigningKey).order_by(col(SigningKey.created_at)))).first()
    if stored is None:
        pair = _key_pair(generate_private_pem())
        session.add(SigningKey(kid=pair.kid, private_pem=pair.private_pem))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
        # Another auth process may have stored its key first: everyone uses the oldest.
        stored = (await session.exec(
            select(SigningKey).order_by(col(SigningKey.created_at)))).first()
        assert stored is not None
    return _key_pair(stored.private_pem, stored.kid)


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    """The JWK set that verifies tokens signed by ``pairs``."""
    return {"keys": [pair.public_jwk for pair in pairs]}
