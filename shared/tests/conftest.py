"""Broker and database fixtures; the resolution logic lives in ``shared.testing``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

# pytest's importlib mode names this file ``shared.tests.conftest`` and registers the
# folder ``/work/main/shared`` as a bare namespace package ``shared`` first, hiding the real
# ``shared`` package (the workspace member is installed from ``shared/shared``). Put the
# real package back before anything imports from it.
if getattr(sys.modules.get("shared"), "__file__", None) is None:
    sys.modules.pop("shared", None)
    importlib.import_module("shared")

import pytest  # noqa: E402

from shared import testing  # noqa: E402


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """URL of a real RabbitMQ (skips, or fails under CI=true, when there is none)."""
    url, cleanup = testing.resolve_amqp_url()
    try:
        yield testing.require(url, "RabbitMQ")
    finally:
        cleanup()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of a PostgreSQL role that may create databases."""
    url, cleanup = testing.resolve_postgres_admin_url()
    try:
        yield testing.require(url, "PostgreSQL")
    finally:
        cleanup()


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A throwaway PostgreSQL database for one test, dropped afterwards."""
    url = testing.create_throwaway_database(postgres_admin_url, prefix="ma_test")
    try:
        yield url
    finally:
        testing.drop_database(postgres_admin_url, url)
