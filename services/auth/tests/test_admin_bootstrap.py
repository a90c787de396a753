"""ADMIN_EMAIL at start-up: an admin is created, never silently made of someone's account."""

import asyncio
import json
import os
import subprocess
import sys

import pytest

from auth.app import create_app
from auth.users import AdminEmailTaken
from shared.net import free_port
from testsupport.apps import serve_in_process

TAKEN = "taken-by-a-member@example.com"
ADMIN_PASSWORD = "the-operators-admin-password"


async def _member_with_the_admin_email(settings_factory, api_factory, database_url) -> dict:
    """A member registered with ``TAKEN``, on an auth started without ADMIN_EMAIL."""
    async with serve_in_process(create_app(settings_factory(database_url, admin_email=""))
                                ) as client:
        return await api_factory(client).register(email=TAKEN, password="members-own-pass")


def _admin_settings(settings_factory, database_url, **overrides):
    return settings_factory(database_url, admin_email=TAKEN, admin_password=ADMIN_PASSWORD,
                            **overrides)


async def _login(client, password: str):
    return await client.post("/api/auth/login/", json={"email": TAKEN, "password": password})


async def test_an_existing_member_with_the_admin_email_stops_start_up(
        database_url, auth_settings_factory, api_factory):
    await _member_with_the_admin_email(auth_settings_factory, api_factory, database_url)
    app = create_app(_admin_settings(auth_settings_factory, database_url))
    with pytest.raises(AdminEmailTaken, match="ADMIN_PROMOTE_EXISTING"):
        async with serve_in_process(app):
            pass
    settings = auth_settings_factory(database_url, admin_email="")
    async with serve_in_process(create_app(settings)) as client:
        response = await _login(client, "members-own-pass")
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "member"


async def test_allowed_promotion_resets_the_password_and_revokes_the_sessions(
        database_url, auth_settings_factory, api_factory):
    member = await _member_with_the_admin_email(auth_settings_factory, api_factory,
                                                database_url)
    settings = _admin_settings(auth_settings_factory, database_url,
                               admin_promote_existing=True)
    async with serve_in_process(create_app(settings)) as client:
        own_password = await _login(client, "members-own-pass")
        admin = await _login(client, ADMIN_PASSWORD)
        old_session = await client.post("/api/auth/refresh/",
                                         json={"refreshToken": member["refreshToken"]})
    assert own_password.status_code == 401
    assert admin.status_code == 200
    assert admin.json()["user"]["id"] == member["user"]["id"]
    assert admin.json()["user"]["role"] == "admin"
    assert old_session.status_code == 401


async def test_an_existing_admin_is_left_alone_at_every_start(
        database_url, auth_settings_factory, api_factory):
    await _member_with_the_admin_email(auth_settings_factory, api_factory, database_url)
    settings = _admin_settings(auth_settings_factory, database_url,
                               admin_promote_existing=True)
    async with serve_in_process(create_app(settings)) as client:
        session = (await _login(client, ADMIN_PASSWORD)).json()
    for promote in (True, False):
        again = _admin_settings(auth_settings_factory, database_url,
                                admin_promote_existing=promote)
        async with serve_in_process(create_app(again)) as client:
            refreshed = await client.post("/api/auth/refresh/",
                                          json={"refreshToken": session["refreshToken"]})
            assert refreshed.status_code == 200, refreshed.text
            session = refreshed.json()


async def test_the_refusing_process_exits_non_zero_with_a_log_line_that_says_why(
        tmp_path, auth_settings_factory, api_factory):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    await _member_with_the_admin_email(auth_settings_factory, api_factory, database_url)
    env = {**os.environ, "DATABASE_URL": database_url, "ADMIN_EMAIL": TAKEN,
           "ADMIN_PASSWORD": ADMIN_PASSWORD, "PASSWORD_HASH_TIME_COST": "1",
           "PASSWORD_HASH_MEMORY_KIB": "1024"}
    env.pop("ADMIN_PROMOTE_EXISTING", None)
    process = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "uvicorn", "auth.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=120)
    assert process.returncode != 0
    lines = [json.loads(line) for line in process.stderr.splitlines()
             if line.startswith("{")]
    refusal = [line for line in lines if line.get("event") == "admin_email_taken"]
    assert len(refusal) == 1 and refusal[0]["level"] == "error"
