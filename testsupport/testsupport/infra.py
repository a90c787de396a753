"""Real broker and database URLs for tests and benchmarks, and throwaway databases and
virtual hosts on them.

Resolution order (ARCHITECTURE.md, "Machines here"): the ``TEST_AMQP_URL`` /
``TEST_DATABASE_URL`` environment variables, else the local defaults when they answer,
else a testcontainers container when Docker answers, else nothing, in which case tests
skip, except under ``CI=true`` where a missing service is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from contextlib import closing
from urllib.parse import urlsplit, urlunsplit

LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"

Cleanup = Callable[[], None]


def port_answers(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``url``'s host and port."""
    parts = urlsplit(url)
    default_port = {"amqp": 5672, "amqps": 5671, "redis": 6379}.get(parts.scheme, 5432)
    try:
        with closing(
            socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout
            )
        ):
            return True
    except OSError:
        return False


def docker_answers() -> bool:
    """Whether a Docker engine is reachable (for testcontainers)."""
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def resolve_amqp_url() -> tuple[str | None, Cleanup]:
    """A RabbitMQ URL for tests and a function that releases it (stops a container)."""
    if url := os.environ.get("TEST_AMQP_URL"):
        return url, _nothing
    if port_answers(LOCAL_AMQP_URL):
        return LOCAL_AMQP_URL, _nothing
    if docker_answers():
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13-alpine").start()
        host = container.get_container_host_ip()
        port = container.get_exposed_port(container.port)
        return f"amqp://guest:guest@{host}:{port}/", container.stop
    return None, _nothing


def resolve_postgres_admin_url() -> tuple[str | None, Cleanup]:
    """A PostgreSQL URL (SQLAlchemy form) allowed to create databases, and its cleanup."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        return url, _nothing
    if port_answers(LOCAL_POSTGRES_URL):
        return LOCAL_POSTGRES_URL, _nothing
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver="psycopg").start()
        return container.get_connection_url(), container.stop
    return None, _nothing


def create_throwaway_vhost(amqp_url: str, prefix: str = "ma_test") -> tuple[str, Cleanup]:
    """A fresh RabbitMQ virtual host on the broker of ``amqp_url``, and its deletion.

    A platform started for a test or a benchmark declares the same durable queues as
    any other on the broker (``vehicles.odometer``, ...); its own vhost keeps their
    messages apart and deleting it removes them all. Needs ``rabbitmqctl`` on this
    machine (the local broker); elsewhere (a container, a remote broker) the URL is
    returned unchanged.
    """
    import shutil
    import subprocess

    parts = urlsplit(amqp_url)
    if shutil.which("rabbitmqctl") is None or parts.hostname not in ("127.0.0.1", "localhost"):
        return amqp_url, _nothing
    vhost = f"{prefix}_{uuid.uuid4().hex[:12]}"
    user = parts.username or "guest"

    def rabbitmqctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                       timeout=60)

    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return urlunsplit(parts._replace(path=f"/{vhost}")), lambda: rabbitmqctl(
        "delete_vhost", vhost)


def require(url: str | None, what: str) -> str:
    """Return ``url``, or skip the test when it is None (fail instead under ``CI=true``)."""
    if url is not None:
        return url
    import pytest

    message = f"{what} is not available (set TEST_AMQP_URL / TEST_DATABASE_URL / TEST_REDIS_URL)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _libpq_url(url: str) -> str:
    # psycopg wants postgresql://, SQLAlchemy URLs carry the driver: postgresql+psycopg://
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def create_throwaway_database(admin_url: str, prefix: str = "ma_test") -> str:
    """Create an empty database with a random name; returns its SQLAlchemy URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` points at, disconnecting whoever is still connected."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _nothing() -> None:
    return None
