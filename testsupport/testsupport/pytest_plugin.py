"""The one fixture set for tests: real broker and database URLs, apps run in process,
the spans they emit.

Registered for the whole repository by the root ``conftest.py``. URL resolution
lives in :mod:`testsupport.infra`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing
from testsupport import infra
from testsupport.pgbouncer import PgBouncer, pgbouncer_binary


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """URL of a real RabbitMQ (skips, or fails under CI=true, when there is none)."""
    url, cleanup = infra.resolve_amqp_url()
    try:
        yield infra.require(url, "RabbitMQ")
    finally:
        cleanup()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis (skips, or fails under CI=true, when there is none). Shared with
    other users of the machine: a test keeps to keys under a prefix of its own."""
    url = os.environ.get("TEST_REDIS_URL") or infra.LOCAL_REDIS_URL
    return infra.require(url if infra.port_answers(url) else None, "Redis")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of a PostgreSQL role that may create databases."""
    url, cleanup = infra.resolve_postgres_admin_url()
    try:
        yield infra.require(url, "PostgreSQL")
    finally:
        cleanup()


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A throwaway PostgreSQL database for one test, dropped afterwards."""
    url = infra.create_throwaway_database(postgres_admin_url, prefix="ma_test")
    try:
        yield url
    finally:
        infra.drop_database(postgres_admin_url, url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """Each test that uses it runs on SQLite (embedded) and on PostgreSQL (real)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'service.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def pgbouncer(postgres_admin_url: str) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of the test PostgreSQL, four server
    connections per database (``make test`` installs pgbouncer when it is missing)."""
    if pgbouncer_binary() is None:
        message = "pgbouncer is not installed (make test installs it: apt-get install pgbouncer)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    bouncer = PgBouncer(postgres_admin_url)
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the apps built during the test, every finished span kept here in
    memory; off again afterwards."""
    exporter = InMemorySpanExporter()
    tracing.configure(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.reset()
