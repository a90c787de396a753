"""The PostgreSQL pool: a bounded wait answered 503, idle connections given back, metrics."""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import urlsplit

import httpx
import psycopg
from fastapi import FastAPI
from prometheus_client import generate_latest
from sqlalchemy import text

from shared.db import Database
from shared.errors import install_error_handlers
from shared.observability import watch_database_pool
from testsupport.apps import wait_until
from testsupport.infra import with_database


def app_on(database: Database) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/one/")
    async def one() -> int:
        async with database.read_session() as session:
            return int((await session.exec(text("SELECT 1"))).scalar_one())

    return app


def client_of(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def backends(admin_url: str, database_url: str) -> int:
    """Server processes connected to the database of ``database_url`` now."""
    name = urlsplit(database_url).path.lstrip("/")
    admin = with_database(admin_url, "postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                 (name,)).fetchone()
    return int(row[0]) if row else 0


def metric(service: str, name: str) -> float:
    exposition = generate_latest().decode()
    found = re.search(rf'^{name}\{{service="{service}"\}} (\S+)$', exposition, re.MULTILINE)
    assert found, f"{name} for {service} missing from /metrics"
    return float(found.group(1))


async def test_a_request_finding_no_free_connection_in_time_is_503_with_retry_after(
        postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        async with client_of(app_on(database)) as client:
            async with database.engine.connect() as held:
                await held.execute(text("SELECT 1"))
                refused = await client.get("/one/")
            served = await client.get("/one/")
    finally:
        await database.dispose()
    assert refused.status_code == 503
    assert refused.json() == {"error": "Service unavailable: database"}
    assert refused.headers["retry-after"] == "1"
    assert (served.status_code, served.json()) == (200, 1)


async def test_a_waiting_checkout_is_served_before_a_later_one(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout=30)
    served: list[str] = []

    async def query(name: str) -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        served.append(name)

    try:
        held = await database.engine.connect()
        await held.execute(text("SELECT 1"))
        waiter = asyncio.create_task(query("waiter"))
        await wait_until(lambda: database.counters.waiting == 1)
        await held.close()
        await query("newcomer")  # asks the moment the connection is back
        await waiter
    finally:
        await database.dispose()
    assert served == ["waiter", "newcomer"]


async def test_a_checkout_handed_a_connection_as_it_gives_up_passes_it_on(
        postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout=30)
    try:
        held = await database.engine.connect()
        await held.execute(text("SELECT 1"))
        impatient = asyncio.create_task(database.engine.connect().start())
        await wait_until(lambda: database.counters.waiting == 1)
        await held.close()  # hands the connection to the waiting checkout ...
        impatient.cancel()  # ... which gives up before it runs
        gave_up = (await asyncio.gather(impatient, return_exceptions=True))[0]
        assert isinstance(gave_up, asyncio.CancelledError)
        async with asyncio.timeout(5), database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await database.dispose()


async def test_metrics_show_connections_in_use_and_checkouts_waiting(postgres_url: str) -> None:
    service = f"pooltest{uuid.uuid4().hex[:8]}"
    database = Database(postgres_url, pool_size=1, max_overflow=1, pool_timeout=30)
    watch_database_pool(service, database)

    async def one() -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    try:
        async with database.engine.connect() as first, database.engine.connect() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            waiter = asyncio.create_task(one())
            await wait_until(lambda: database.counters.waiting == 1)
            assert metric(service, "db_pool_connections_in_use") == 2
            assert metric(service, "db_pool_connections_overflow") == 1
            assert metric(service, "db_pool_connections_limit") == 2
            assert metric(service, "db_pool_checkouts_waiting") == 1
        await waiter
        assert metric(service, "db_pool_checkouts_waiting") == 0
        assert metric(service, "db_pool_connections_in_use") == 0
        # The overflow connection closed on its return; the pool keeps pool_size idle.
        assert metric(service, "db_pool_connections_idle") == 1
        assert metric(service, "db_pool_connections_overflow") == 0
    finally:
        await database.dispose()


async def test_metrics_count_checkouts_that_timed_out(postgres_url: str) -> None:
    service = f"pooltest{uuid.uuid4().hex[:8]}"
    database = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    watch_database_pool(service, database)
    try:
        async with client_of(app_on(database)) as client:
            async with database.engine.connect() as held:
                await held.execute(text("SELECT 1"))
                assert (await client.get("/one/")).status_code == 503
                assert (await client.get("/one/")).status_code == 503
    finally:
        await database.dispose()
    assert metric(service, "db_pool_checkout_timeouts_total") == 2


async def test_connections_left_idle_are_closed_and_never_handed_out_closed(
        postgres_admin_url: str, postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=3, max_overflow=0, idle_timeout=1.0)

    async def one() -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await asyncio.sleep(0.05)

    try:
        await asyncio.gather(one(), one(), one())
        assert backends(postgres_admin_url, postgres_url) == 3

        async def light_load_leaves_one() -> bool:
            # Light load: one query at a time. The warmest connection serves each
            # (LIFO), so the other two stay idle until PostgreSQL closes them; the
            # one in use is renewed when old, never handed out closed (or this fails).
            await one()
            return backends(postgres_admin_url, postgres_url) <= 1

        await wait_until(light_load_leaves_one, within=30, interval=0.2)
    finally:
        await database.dispose()


async def test_a_pool_survives_its_idle_connections_being_closed(
        postgres_admin_url: str, postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=2, max_overflow=0, idle_timeout=1.0)
    try:
        async with client_of(app_on(database)) as client:
            assert (await client.get("/one/")).status_code == 200
            await wait_until(lambda: backends(postgres_admin_url, postgres_url) == 0,
                             within=30)
            answers = [(await client.get("/one/")).status_code for _ in range(3)]
    finally:
        await database.dispose()
    assert answers == [200, 200, 200]


async def test_an_idle_timeout_of_zero_keeps_connections_open(postgres_url: str) -> None:
    shown = {}
    for idle_timeout in (120.0, 0.0):
        database = Database(postgres_url, idle_timeout=idle_timeout)
        try:
            async with database.engine.connect() as connection:
                shown[idle_timeout] = (await connection.execute(
                    text("SHOW idle_session_timeout"))).scalar_one()
        finally:
            await database.dispose()
    assert shown == {120.0: "2min", 0.0: "0"}
