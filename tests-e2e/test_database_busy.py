"""A service whose database cannot serve a request in time answers 503 with Retry-After.

Through the gateway, in both run modes, with the database really held, as an operator meets
it: a migration's lock on PostgreSQL, with more requests than the vehicles process has pooled
connections (each pool is its share of the connection budget, so the ones past it wait for
DATABASE_POOL_TIMEOUT); on SQLite (``make run``) a write lock held past busy_timeout.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

DATABASE_UNAVAILABLE = {"error": "Service unavailable: database"}
# More than the pool of the vehicles process (the budget gives it fewer); on SQLite every
# writer waits for the one lock.
CONCURRENT = {"processes": 24, "embedded": 3}


@contextmanager
def _postgres_table_locked(topology: Any) -> Iterator[None]:
    url = topology.processes["vehicles"][0].env["DATABASE_URL"]
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as admin:
        admin.execute("LOCK TABLE vehicles IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            admin.rollback()


@contextmanager
def _sqlite_write_locked(platform: Any) -> Iterator[None]:
    database = sqlite3.connect(Path(platform.env["DATA_DIR"]) / "vehicles.db",
                               isolation_level=None)
    database.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        database.execute("ROLLBACK")
        database.close()


def _held(platform_mode: str, request: pytest.FixtureRequest) -> Any:
    if platform_mode == "processes":
        return _postgres_table_locked(request.getfixturevalue("topology"))
    return _sqlite_write_locked(request.getfixturevalue("embedded_platform"))


def test_a_service_its_database_cannot_serve_answers_503_with_retry_after(
        platform_url: str, platform_mode: str, request: pytest.FixtureRequest,
        member: dict[str, Any], garage: Any) -> None:
    headers = member["headers"]
    # Reads on SQLite do not wait for a writer (WAL); writes do. On PostgreSQL the lock
    # stops both: reads fill the pool, as a burst meeting a slow database does.
    method, body = ("GET", None) if platform_mode == "processes" else ("POST", {})
    answered: list[httpx.Response] = []
    first_answer = threading.Event()

    def call() -> None:
        json = None if body is None else {"vin": garage.new_vin(), "make": "Volvo",
                                          "model": "V70", "year": 2015}
        with httpx.Client(base_url=platform_url, timeout=60) as client:
            answered.append(client.request(method, "/api/vehicles/", headers=headers,
                                           json=json))
        first_answer.set()

    with ThreadPoolExecutor(CONCURRENT[platform_mode]) as pool:
        with _held(platform_mode, request):
            calls = [pool.submit(call) for _ in range(CONCURRENT[platform_mode])]
            # The first answer is a 503, after the pool's or SQLite's busy timeout; the
            # lock is then let go, so the requests holding a connection finish.
            first_answer.wait(60)
        wait(calls)
    for finished in calls:
        finished.result()

    refused = [r for r in answered if r.status_code == 503]
    assert refused, [r.status_code for r in answered]
    assert all(r.json() == DATABASE_UNAVAILABLE for r in refused)
    assert all(r.headers["Retry-After"] == "1" for r in refused)
    assert {r.status_code for r in answered} <= {200, 201, 503}
    with httpx.Client(base_url=platform_url, timeout=30) as client:
        assert client.get("/api/vehicles/", headers=headers).status_code == 200
