"""Signing keys: generated once and kept, or configured; rotated without logging anyone out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from alembic import command
from sqlalchemy import DateTime, Table, func, insert, select, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from auth.app import MIGRATIONS, create_app
from auth.keys import SigningKeys, generate_private_pem, rotate
from auth.keys.store import keeping_period, publication_period
from auth.models import SigningKey
from launcher.local import Topology
from launcher.process import Process
from shared.db import Database
from shared.migrations import alembic_config, upgrade_to_head
from shared.models import utcnow
from shared.net import free_port
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER
from testsupport.apps import serve_in_process

KEYS: Table = SigningKey.__table__  # type: ignore[attr-defined]


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def jwks_kids(client: Any) -> list[str]:
    return [key["kid"] for key in (await client.get("/api/auth/jwks/")).json()["keys"]]


async def rotate_keys(app: Any) -> str:
    """What ``python -m auth.keys rotate`` does, on the app's database; the new kid."""
    async with app.state.db.session() as session:
        new_kid, _ = await rotate(session)
    return new_kid


async def replaced_ago(app: Any, age: timedelta) -> None:
    """Make every replaced key one that was replaced ``age`` ago."""
    async with app.state.db.engine.begin() as connection:
        await connection.execute(update(KEYS).where(KEYS.c.replaced_at.is_not(None))
                                 .values(replaced_at=utcnow() - age))


async def test_a_generated_key_survives_a_restart(database_url, auth_settings_factory,
                                                  api_factory, bearer):
    settings = auth_settings_factory(database_url)
    async with serve_in_process(create_app(settings)) as client:
        token = (await api_factory(client).register())["accessToken"]
    async with serve_in_process(create_app(settings)) as client:
        second = (await api_factory(client).register())["accessToken"]
        me = await client.get("/api/auth/me/", headers=bearer(token))
    assert kid_of(token) == kid_of(second)
    assert me.status_code == 200


async def test_a_configured_key_signs_with_its_key_id(database_url, auth_settings_factory,
                                                     api_factory, tmp_path):
    pem = generate_private_pem()
    key_file = tmp_path / "signing.pem"
    key_file.write_text(pem)
    for source in ({"jwt_private_key": pem}, {"jwt_private_key_file": str(key_file)}):
        settings = auth_settings_factory(database_url, jwt_key_id="ops-key-1", **source)
        async with serve_in_process(create_app(settings)) as client:
            token = (await api_factory(client).register())["accessToken"]
            jwks = (await client.get("/api/auth/jwks/")).json()
        assert kid_of(token) == "ops-key-1"
        assert [key["kid"] for key in jwks["keys"]] == ["ops-key-1"]
        claims = jwt.decode(token, jwt.PyJWK(jwks["keys"][0]).key, algorithms=["RS256"],
                            audience=DEFAULT_AUDIENCE, issuer=DEFAULT_ISSUER)
        assert claims["typ"] == "access"


async def test_a_configured_key_replaces_the_stored_one_without_logging_anyone_out(
        database_url, auth_settings_factory, api_factory, bearer):
    async with serve_in_process(create_app(auth_settings_factory(database_url))) as client:
        before = await api_factory(client).register()
    settings = auth_settings_factory(database_url, jwt_private_key=generate_private_pem(),
                                     jwt_key_id="ops-key-2")
    async with serve_in_process(create_app(settings)) as client:
        after = (await api_factory(client).register())["accessToken"]
        me = await client.get("/api/auth/me/", headers=bearer(before["accessToken"]))
        refreshed = await client.post("/api/auth/refresh/",
                                      json={"refreshToken": before["refreshToken"]})
        kids = await jwks_kids(client)
    assert kid_of(after) == "ops-key-2"
    assert kids == ["ops-key-2", kid_of(before["accessToken"])]
    assert me.status_code == 200 and refreshed.status_code == 200
    assert kid_of(refreshed.json()["accessToken"]) == "ops-key-2"


async def test_after_a_rotation_the_new_key_signs_and_the_old_tokens_still_work(
        app, client, api, bearer):
    before = await api.register()
    new_kid = await rotate_keys(app)
    after = await api.register()
    assert kid_of(after["accessToken"]) == new_kid != kid_of(before["accessToken"])
    assert await jwks_kids(client) == [new_kid, kid_of(before["accessToken"])]
    for body in (before, after):
        me = await client.get("/api/auth/me/", headers=bearer(body["accessToken"]))
        assert me.status_code == 200
    refreshed = await client.post("/api/auth/refresh/",
                                  json={"refreshToken": before["refreshToken"]})
    assert refreshed.status_code == 200
    assert {kid_of(token) for token in refreshed.json().values()} == {new_kid}


async def test_a_replaced_key_leaves_the_jwks_once_its_access_tokens_expired(
        app, client, api, auth_settings_factory, database_url):
    before = await api.register()
    new_kid = await rotate_keys(app)
    period = publication_period(auth_settings_factory(database_url))
    await replaced_ago(app, period - timedelta(minutes=1))
    assert await jwks_kids(client) == [new_kid, kid_of(before["accessToken"])]
    await replaced_ago(app, period + timedelta(minutes=1))
    assert await jwks_kids(client) == [new_kid]
    # Its refresh tokens live longer: auth still verifies them.
    refreshed = await client.post("/api/auth/refresh/",
                                  json={"refreshToken": before["refreshToken"]})
    assert refreshed.status_code == 200


async def test_a_replaced_key_is_deleted_once_its_refresh_tokens_expired(
        app, client, api, auth_settings_factory, database_url):
    before = await api.register()
    await rotate_keys(app)
    kept = keeping_period(auth_settings_factory(database_url))
    await replaced_ago(app, kept - timedelta(minutes=1))
    assert (await app.state.pruner.prune_once()).get("signing_keys", 0) == 0
    await replaced_ago(app, kept + timedelta(minutes=1))
    assert (await app.state.pruner.prune_once())["signing_keys"] == 1
    async with app.state.db.engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(KEYS))).scalar() == 1
    # Its refresh token has expired by now in real life; here it is refused for its key.
    refreshed = await client.post("/api/auth/refresh/",
                                  json={"refreshToken": before["refreshToken"]})
    assert refreshed.status_code == 401


@pytest.mark.parametrize("kid", ["\u0000", "k" * 65, "\ud800", "no-such-key"])
async def test_a_refresh_token_naming_a_key_auth_never_had_is_401(client, api, kid):
    body = await api.register()
    claims = jwt.decode(body["refreshToken"], options={"verify_signature": False})
    forged = jwt.encode(claims, generate_private_pem(), algorithm="RS256",
                        headers={"kid": kid})
    response = await client.post("/api/auth/refresh/", json={"refreshToken": forged})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid refresh token"}


async def test_replicas_started_together_on_an_empty_database_agree_on_one_key(
        postgres_url, auth_settings_factory):
    settings = auth_settings_factory(postgres_url)
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, postgres_url)
    # One database engine per replica: separate connections, racing for real.
    databases = [Database(postgres_url, pool_size=1, max_overflow=0) for _ in range(6)]
    replicas = [SigningKeys(settings, database) for database in databases]
    try:
        await asyncio.gather(*(replica.start() for replica in replicas))
        kids = set()
        for replica, database in zip(replicas, databases, strict=True):
            async with database.session() as session:
                kids.add((await replica.signing(session)).kid)
        async with databases[0].engine.connect() as connection:
            stored = (await connection.execute(select(func.count()).select_from(KEYS))).scalar()
    finally:
        for database in databases:
            await database.dispose()
    assert len(kids) == 1
    assert stored == 1


def test_two_auth_processes_started_together_sign_with_the_same_key(postgres_url, tmp_path):
    env = {"DATABASE_URL": postgres_url, "AMQP_URL": "memory://", "ADMIN_EMAIL": "",
           "PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "1024",
           "DATABASE_POOL_SIZE": "2", "DATABASE_MAX_OVERFLOW": "0"}
    replicas = [Process(f"auth-{i}", free_port(), env, "auth.app:create_app",
                        open(tmp_path / f"auth-{i}.log", "ab"))  # noqa: SIM115
                for i in range(2)]
    try:
        for replica in replicas:
            replica.start()
        kids = set()
        for replica in replicas:
            Topology.wait_ready(replica, lambda _: None, 120)
            body = {"email": f"{uuid.uuid4().hex}@example.com", "password": "password123"}
            response = httpx.post(f"{replica.url}/api/auth/register/", json=body, timeout=30)
            assert response.status_code == 201, response.text
            kids.add(kid_of(response.json()["accessToken"]))
    finally:
        for replica in replicas:
            replica.stop()
    assert len(kids) == 1


async def test_concurrent_rotations_leave_one_signing_key(app, client, api):
    async def attempt() -> str | None:
        try:
            return await rotate_keys(app)
        except Exception:  # the loser of the race: its transaction changed nothing
            return None

    results = await asyncio.gather(*(attempt() for _ in range(3)))
    signing = kid_of((await api.register())["accessToken"])
    assert signing in results
    async with app.state.db.engine.connect() as connection:
        current = (await connection.execute(
            select(func.count()).select_from(KEYS).where(KEYS.c.replaced_at.is_(None))))
        assert current.scalar() == 1


async def test_the_migration_keeps_the_key_every_process_signed_with(database_url):
    # Before rotation existed, processes started together could each store a key; all of
    # them then signed with the oldest.
    await asyncio.to_thread(command.upgrade, alembic_config(MIGRATIONS, database_url), "0002")
    old_table = sa_table("signing_keys", sa_column("kid"), sa_column("private_pem"),
                         sa_column("created_at", DateTime(timezone=True)))
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(insert(old_table), [
                {"kid": "later", "private_pem": "-", "created_at": utcnow()},
                {"kid": "oldest", "private_pem": "-",
                 "created_at": utcnow() - timedelta(minutes=1)}])
        await asyncio.to_thread(upgrade_to_head, MIGRATIONS, database_url)
        async with database.engine.connect() as connection:
            signing = (await connection.execute(
                select(KEYS.c.kid).where(KEYS.c.replaced_at.is_(None)))).scalars().all()
    finally:
        await database.dispose()
    assert signing == ["oldest"]
