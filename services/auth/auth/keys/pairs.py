"""An RSA key pair as auth uses it: the private key signs, its public JWK verifies."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

MAX_KID_LENGTH = 64
"""The longest key id stored (the `signing_keys.kid` column)."""


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


def key_pair(private_pem: str, kid: str = "") -> KeyPair:
    """The pair of a PEM private key; its kid is ``kid``, or the key's own thumbprint."""
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


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    """The JWK set that verifies tokens signed by ``pairs``."""
    return {"keys": [pair.public_jwk for pair in pairs]}
