"""Auth service tests: the real app in process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from auth.app import create_app
from auth.settings import AuthSettings
from testsupport.apps import serve_in_process

ADMIN_EMAIL = "admin@membershipauto.test"
ADMIN_PASSWORD = "admin-password-1"
_emails = itertools.count()


def auth_settings(database_url: str, **overrides: Any) -> AuthSettings:
    """Settings for a test instance: cheap password hashing, in-process bus."""
    values: dict[str, Any] = {
        "database_url": database_url, "amqp_url": "memory://",
        "password_hash_time_cost": 1, "password_hash_memory_kib": 1024,
        "admin_email": ADMIN_EMAIL, "admin_password": ADMIN_PASSWORD,
        "outbox_poll_interval": 0.05,
    }
    values.update(overrides)
    return AuthSettings(**values)


@pytest.fixture
async def app(database_url: str) -> Any:
    return create_app(auth_settings(database_url))


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as client:
        yield client


class AuthApi:
    """The calls tests make over and over, against one in-process auth app."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @staticmethod
    def unique_email() -> str:
        return f"user{next(_emails)}@example.com"

    async def register(self, **fields: Any) -> dict[str, Any]:
        """Register a user and return the response body (tokens and user)."""
        body = {"email": self.unique_email(), "password": "password123", "name": "Test User"}
        body.update(fields)
        response = await self.client.post("/api/auth/register/", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def login_admin(self) -> str:
        response = await self.client.post(
            "/api/auth/login/", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["accessToken"])


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(client: httpx.AsyncClient) -> AuthApi:
    return AuthApi(client)


@pytest.fixture
def api_factory() -> Any:
    """``AuthApi`` for a client a test opened itself (e.g. around a restart)."""
    return AuthApi


@pytest.fixture
def auth_settings_factory() -> Any:
    """``auth_settings`` for tests that build their own app instances."""
    return auth_settings


@pytest.fixture(name="bearer")
def bearer_fixture() -> Any:
    return bearer
