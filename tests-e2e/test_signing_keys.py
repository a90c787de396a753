"""The signing key as an operator rotates it, and the claims every verifier checks.

A rotation is the documented command run against the auth database of the running
platform: no process is restarted, tokens issued before keep working, new ones are
signed with the new key, and the gateway and the services pick the key up by themselves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import create_engine, text

from shared.db import sync_url
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER

# Verifiers fetch the JWK set again at most every JWKS_MIN_REFRESH_SECONDS (5 s): a
# verifier that fetched it just before the rotation meets the new kid up to that late.
KEY_PICKUP_SECONDS = 30.0


@pytest.fixture
def auth_env(platform_mode: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings that point ``python -m auth.keys`` at this platform's auth database."""
    if platform_mode == "embedded":
        data_dir = request.getfixturevalue("embedded_platform").env["DATA_DIR"]
        return {"DATABASE_URL": "", "DATA_DIR": data_dir}
    topology = request.getfixturevalue("topology")
    return {"DATABASE_URL": topology.processes["auth"][0].env["DATABASE_URL"]}


def _auth_database_url(auth_env: dict[str, str]) -> str:
    return auth_env["DATABASE_URL"] or f"sqlite:///{auth_env['DATA_DIR']}/auth.db"


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _accepted_soon(gateway: httpx.Client, path: str, headers: dict[str, str]) -> int:
    """The status of ``path``, asked again while it is 401 for up to KEY_PICKUP_SECONDS."""
    deadline = time.monotonic() + KEY_PICKUP_SECONDS
    while True:
        status = gateway.get(path, headers=headers).status_code
        if status != 401 or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def test_a_rotation_keeps_old_tokens_working_and_signs_new_ones_with_the_new_key(
        gateway, users, bearer, auth_env):
    before = users.register()
    assert gateway.get("/api/vehicles/", headers=bearer(before["accessToken"])).status_code \
        == 200
    rotated = subprocess.run([sys.executable, "-m", "auth.keys", "rotate"],
                             env={**os.environ, **auth_env}, capture_output=True, text=True,
                             timeout=120)
    assert rotated.returncode == 0, rotated.stderr

    after = users.register()
    old_kid, new_kid = _kid(before["accessToken"]), _kid(after["accessToken"])
    assert rotated.stdout.splitlines()[0] == f"rotated: {new_kid} signs from now on"
    assert new_kid != old_kid
    published = [key["kid"] for key in gateway.get("/api/auth/jwks/").json()["keys"]]
    assert published[:2] == [new_kid, old_kid]
    # The new key reaches the gateway, auth and vehicles without a restart ...
    for path in ("/api/auth/me/", "/api/vehicles/"):
        assert _accepted_soon(gateway, path, bearer(after["accessToken"])) == 200, path
    # ... and the old one still verifies what it signed, refresh tokens included.
    for path in ("/api/auth/me/", "/api/vehicles/"):
        assert gateway.get(path, headers=bearer(before["accessToken"])).status_code == 200
    refreshed = gateway.post("/api/auth/refresh/",
                             json={"refreshToken": before["refreshToken"]})
    assert refreshed.status_code == 200
    assert {_kid(token) for token in refreshed.json().values()} == {new_kid}


def _sign_as_auth(auth_env: dict[str, str], claims: dict[str, Any]) -> str:
    """A token signed with the platform's own signing key, read from auth's database."""
    engine = create_engine(sync_url(_auth_database_url(auth_env)))
    try:
        with engine.connect() as connection:
            kid, pem = connection.execute(text(
                "SELECT kid, private_pem FROM signing_keys WHERE replaced_at IS NULL")).one()
    finally:
        engine.dispose()
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})


def test_a_token_of_the_platforms_key_for_another_issuer_or_audience_is_401(
        gateway, users, bearer, auth_env, platform_mode, request):
    user_id = users.register()["user"]["id"]
    now = int(time.time())
    base = {"sub": user_id, "role": "member", "tier": None, "typ": "access", "jti": "e2e",
            "iat": now, "exp": now + 600, "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE}
    ours = _sign_as_auth(auth_env, base)
    foreign = {
        "another audience": _sign_as_auth(auth_env, {**base, "aud": "another-platform"}),
        "another issuer": _sign_as_auth(auth_env, {**base, "iss": "https://elsewhere"}),
        "no audience": _sign_as_auth(auth_env, {k: v for k, v in base.items() if k != "aud"}),
    }
    edge = str(gateway.base_url).rstrip("/")
    targets = [f"{edge}/api/auth/me/", f"{edge}/api/vehicles/"]
    if platform_mode == "processes":  # the services check too, reached without the gateway
        processes = request.getfixturevalue("topology").processes
        targets += [f"{processes['auth'][0].url}/api/auth/me/",
                    f"{processes['vehicles'][0].url}/api/vehicles/"]
    for url in targets:
        assert httpx.get(url, headers=bearer(ours)).status_code == 200, url
        for name, token in foreign.items():
            response = httpx.get(url, headers=bearer(token))
            assert response.status_code == 401, (url, name)
            assert "error" in response.json()
