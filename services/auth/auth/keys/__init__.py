"""RS256 signing keys: one signs, every key that may still have live tokens verifies.

Where the signing key comes from:

- configured (``JWT_PRIVATE_KEY`` or ``JWT_PRIVATE_KEY_FILE``): that key signs, always;
- otherwise generated and stored in the auth database, where the stored key that has
  not been replaced signs. A unique index allows one such key, so auth processes started
  together on an empty database agree on it: the first insert wins, the others fail
  and those processes read the winner's.

Rotation (``python -m auth.keys rotate``) replaces the signing key in one transaction:
the old key gets ``replaced_at`` and a new one is inserted. Every process reads which
key signs at each issuance (one indexed query beside the several a login makes), so
the new key signs from that commit on, in every replica, without a restart; and the
JWK set is read from the database too, so it holds the new key before any token does.

A replaced key stays in the JWK set until every access token it signed has expired
(``ACCESS_TOKEN_TTL_SECONDS`` after it was replaced, plus a margin for clocks and the
verifiers' leeway), so a rotation logs nobody out: the gateway and the services fetch
the set again when they meet a ``kid`` they do not know. Auth keeps the key longer, to
verify the refresh tokens it signed; the pruner deletes it once those have expired too.
"""

from auth.keys.pairs import KeyPair, generate_private_pem, jwks
from auth.keys.store import SigningKeys, retired_signing_keys, rotate

__all__ = ["KeyPair", "SigningKeys", "generate_private_pem", "jwks", "retired_signing_keys",
           "rotate"]
