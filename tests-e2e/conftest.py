"""The real topology for end-to-end tests: separate processes, PostgreSQL, RabbitMQ.

Started once per session with the same ``Topology`` that ``make up`` uses, on
free ports and throwaway databases; tests talk to it only through the gateway.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from launcher.local import Topology, free_port
from shared import testing

ADMIN_EMAIL = "admin@e2e.membershipauto.test"
ADMIN_PASSWORD = "e2e-admin-password"
_emails = itertools.count()


@pytest.fixture(scope="session")
def topology(postgres_admin_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Topology]:
    """Every built service and the gateway, each its own process."""
    run_id = uuid.uuid4().hex[:8]
    databases: list[str] = []

    def database_url(service: str) -> str:
        url = testing.with_database(postgres_admin_url, f"ma_e2e_{run_id}_{service}")
        databases.append(url)
        return url

    log_dir = Path(tmp_path_factory.mktemp("e2e-logs"))
    topo = Topology(database_url, amqp_url=amqp_url, gateway_port=free_port(),
                    ports={"auth": [free_port()]}, log_dir=log_dir, extra_env={
                        "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
                        "PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "1024",
                        "OUTBOX_POLL_INTERVAL": "0.2", "RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL": "5",
                        "RATE_LIMIT_REGISTER_PER_IP": "1000"})
    try:
        topo.start(progress=lambda _: None)
        yield topo
    except Exception:
        for log in sorted(log_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    finally:
        topo.stop()
        for url in databases:
            testing.drop_database(postgres_admin_url, url)


@pytest.fixture
def gateway(topology: Topology) -> Iterator[httpx.Client]:
    """An HTTP client for the gateway URL — the only door the tests use."""
    with httpx.Client(base_url=topology.url, timeout=30) as client:
        yield client


class Users:
    """Registering and logging in through the gateway."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def unique_email() -> str:
        return f"e2e{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com"

    def register(self, **fields: Any) -> dict[str, Any]:
        body = {"email": self.unique_email(), "password": "password123", "name": "E2E"}
        body.update(fields)
        response = self.client.post("/api/auth/register/", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def login(self, email: str, password: str) -> dict[str, Any]:
        response = self.client.post("/api/auth/login/",
                                    json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def admin_token(self) -> str:
        return str(self.login(ADMIN_EMAIL, ADMIN_PASSWORD)["accessToken"])


@pytest.fixture
def users(gateway: httpx.Client) -> Users:
    return Users(gateway)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(name="bearer")
def bearer_fixture() -> Any:
    return bearer
