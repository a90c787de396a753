"""``python -m auth.keys``: the operator's rotation, against a running auth service."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import jwt

from auth.app import create_app
from auth.keys import generate_private_pem
from testsupport.apps import serve_in_process


async def keys_command(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m auth.keys <args>`` with the auth settings ``env`` adds."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "auth.keys", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_rotate_switches_a_running_service_to_a_new_key(
        database_url, auth_settings_factory, api_factory, bearer):
    async with serve_in_process(create_app(auth_settings_factory(database_url))) as client:
        api = api_factory(client)
        before = await api.register()
        rotated = await keys_command("rotate", DATABASE_URL=database_url)
        after = await api.register()
        me = await client.get("/api/auth/me/", headers=bearer(before["accessToken"]))
        listed = await keys_command("list", DATABASE_URL=database_url)
    assert rotated.returncode == 0, rotated.stderr
    new_kid = kid_of(after["accessToken"])
    assert rotated.stdout.splitlines()[0] == f"rotated: {new_kid} signs from now on"
    assert new_kid != kid_of(before["accessToken"])
    assert me.status_code == 200
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(new_kid) and lines[0].endswith("signing")
    assert lines[1].startswith(kid_of(before["accessToken"]))
    assert "in the JWK set until" in lines[1] and "deleted after" in lines[1]


async def test_a_missing_database_is_an_error_not_a_new_empty_one(tmp_path):
    result = await keys_command("rotate", DATABASE_URL="", DATA_DIR=str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "no auth database" in result.stderr
    assert not (tmp_path / "nowhere").exists()


async def test_a_database_that_is_not_auths_is_an_error(postgres_url):
    result = await keys_command("rotate", DATABASE_URL=postgres_url)
    assert result.returncode == 1
    assert "cannot use the signing keys" in result.stderr


async def test_rotate_is_refused_while_a_key_is_configured(tmp_path):
    result = await keys_command("rotate", JWT_PRIVATE_KEY=generate_private_pem(),
                                DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "JWT_PRIVATE_KEY" in result.stderr
