"""Vehicles service tests: the real app in process, on SQLite and on PostgreSQL.

Access tokens are signed here with a test RSA key whose JWK set is handed to the app
as its ``jwks_source``, exactly as the auth service's tokens would be verified.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from testsupport.apps import TokenSigner, serve_in_process
from vehicles.app import create_app
from vehicles.settings import VehiclesSettings

SIGNER = TokenSigner("vehicles-test-key")
_vins = itertools.count(100_000)


def access_token(user_id: str, *, key: Any = None, **claims: Any) -> str:
    """An RS256 access token for ``user_id``, as the auth service issues them."""
    return SIGNER.token(user_id, key=key, **claims)


def unique_vin() -> str:
    """A well-formed VIN no other test uses."""
    return f"1HGBH41JXMN{next(_vins):06d}"


def vehicles_settings(database_url: str) -> VehiclesSettings:
    return VehiclesSettings(database_url=database_url, amqp_url="memory://",
                            outbox_poll_interval=0.05)


@pytest.fixture
async def app(database_url: str) -> Any:
    return create_app(vehicles_settings(database_url), jwks_source=SIGNER.jwks_source)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as client:
        yield client


@dataclass
class Member:
    """A caller: a user id and the headers that carry its access token."""

    client: httpx.AsyncClient
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {access_token(self.user_id)}"}

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self.headers)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers)

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)

    async def create_vehicle(self, **fields: Any) -> dict[str, Any]:
        """Register a vehicle (defaults for the required fields) and return its body."""
        body = {"vin": unique_vin(), "make": "Honda", "model": "Civic", "year": 2020}
        body.update(fields)
        response = await self.post("/api/vehicles/", body)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture(name="unique_vin")
def unique_vin_fixture() -> Any:
    """``unique_vin`` for tests (a fresh well-formed VIN per call)."""
    return unique_vin


@pytest.fixture(name="access_token")
def access_token_fixture() -> Any:
    """``access_token`` for tests that build their own tokens."""
    return access_token


@pytest.fixture
def alice(client: httpx.AsyncClient) -> Member:
    return Member(client, str(uuid.uuid4()))


@pytest.fixture
def bob(client: httpx.AsyncClient) -> Member:
    return Member(client, str(uuid.uuid4()))
