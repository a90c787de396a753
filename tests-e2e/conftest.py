"""The platform for end-to-end tests, driven only through the gateway URL.

Every test runs against both ways of running it, each started once per session:
``processes`` is the real topology (the same ``Topology`` that ``make up`` uses: a
process per service, PostgreSQL, RabbitMQ, on free ports and throwaway databases);
``embedded`` is what ``make run`` starts (one process, SQLite, in-process bus).
Tests marked ``processes_only`` need the real broker and run on the first alone.

Each test also carries the marker of every service it involves (``INVOLVES``, by file),
which ``make test SERVICE=<name>`` selects on.
"""

from __future__ import annotations

import itertools
import logging
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from launcher.catalog import SERVICES
from launcher.local import Process, Topology
from launcher.supervisor import Supervisor
from shared.net import free_port
from testsupport.topology import throwaway_topology

ADMIN_EMAIL = "admin@e2e.membershipauto.test"
ADMIN_PASSWORD = "e2e-admin-password"
_emails = itertools.count()

EVERY = {spec.name for spec in SERVICES}
# The services each file exercises (routes it calls, events it waits for). Auth is in
# every one: each test signs in through it. A new file must be added here.
INVOLVES: dict[str, set[str]] = {
    "test_appointments_contract.py": {"appointments", "vehicles"},
    "test_auth_contract.py": set(),
    "test_bad_input.py": EVERY,
    "test_chat_contract.py": {"chat", "files"},
    "test_database_busy.py": {"vehicles"},
    "test_edge_limits.py": set(),
    "test_engagement_contract.py": {"engagement", "appointments", "vehicles"},
    "test_events.py": {"engagement"},
    "test_faults.py": {"engagement"},
    "test_files_contract.py": {"files"},
    "test_fuzz.py": EVERY,
    "test_gateway_edges.py": EVERY,  # the merged OpenAPI document holds every service's
    "test_signing_keys.py": {"vehicles"},
    "test_supervision.py": {"vehicles"},
    "test_telematics_contract.py": {"telematics", "vehicles"},
    "test_vehicles_contract.py": {"vehicles"},
}
HERE = Path(__file__).resolve().parent


# Settings that keep the suite fast and let it register many users from one address.
TEST_ENV = {
    "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
    "PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "1024",
    "OUTBOX_POLL_INTERVAL": "0.2", "RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL": "5",
    "RATE_LIMIT_REGISTER_PER_IP": "1000",
    # A short retry ladder, so a poison message reaches its DLQ in seconds, not minutes.
    "CONSUMER_RETRY_DELAYS": "0.5,1,2", "CONSUMER_MAX_ATTEMPTS": "4",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "processes_only: needs the real topology (broker)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().parent != HERE:
            continue
        if item.path.name not in INVOLVES:
            raise pytest.UsageError(f"tests-e2e/conftest.py: add {item.path.name} to INVOLVES")
        for name in {"auth"} | INVOLVES[item.path.name]:
            item.add_marker(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "platform_url" in metafunc.fixturenames:
        processes_only = metafunc.definition.get_closest_marker("processes_only")
        modes = ["processes"] if processes_only else ["embedded", "processes"]
        metafunc.parametrize("platform_mode", modes, scope="session")


@pytest.fixture(scope="session")
def embedded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """``python -m launcher.embedded`` (what ``make run`` starts) on a free port."""
    data_dir = tmp_path_factory.mktemp("embedded-data")
    port = free_port()
    process = Process("embedded", port, {**TEST_ENV, "PORT": str(port),
                                         "DATA_DIR": str(data_dir)}, "",
                      open(data_dir / "platform.log", "ab"))  # noqa: SIM115
    process.start(command=[sys.executable, "-m", "launcher.embedded"])
    try:
        Topology.wait_ready(process, progress=lambda _: None)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def platform_url(platform_mode: str, request: pytest.FixtureRequest) -> str:
    """The gateway URL of the platform this test runs against."""
    if platform_mode == "embedded":
        return str(request.getfixturevalue("embedded_platform").url)
    return str(request.getfixturevalue("topology").url)


@pytest.fixture(scope="session")
def topology(postgres_admin_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Topology]:
    """Every built service and the gateway, each its own process."""
    log_dir = Path(tmp_path_factory.mktemp("e2e-logs"))
    try:
        with throwaway_topology(
                postgres_admin_url, amqp_url, prefix="ma_e2e", progress=lambda _: None,
                gateway_port=free_port(), log_dir=log_dir, extra_env=TEST_ENV,
                # Two telematics processes, as ops scale ingest: every telematics test
                # also exercises round-robin and processes sharing one database. Two chat
                # processes too: a socket on one receives what is sent on the other.
                ports={spec.name: [free_port()] for spec in SERVICES}
                | {"telematics": [free_port(), free_port()],
                   "chat": [free_port(), free_port()]}) as topo:
            yield topo
    except Exception:
        for log in sorted(log_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise


class SupervisorLog(logging.Handler):
    """What ``launcher.supervisor`` logged, as the fields of each record."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append({**vars(record), "message": record.getMessage()})

    def events(self, kind: str, instance: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == kind and r["instance"] == instance]


@dataclass
class SupervisedTopology:
    """A topology watched by the supervisor ``make up`` uses, and what that logged."""

    topology: Topology
    supervisor: Supervisor
    log: SupervisorLog


@pytest.fixture(scope="module")
def supervised_topology(postgres_admin_url: str, amqp_url: str,
                        tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[SupervisedTopology]:
    """Auth, vehicles and the gateway, each its own process, supervised as under ``make up``.

    Separate from ``topology`` (which tests stop and start by hand) so that processes can
    be killed and restarted without touching the platform every other test shares.
    """
    log_dir = Path(tmp_path_factory.mktemp("supervised-logs"))
    services = tuple(spec for spec in SERVICES if spec.name in ("auth", "vehicles"))
    log = SupervisorLog()
    logger = logging.getLogger("launcher.supervisor")
    logger.addHandler(log)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with throwaway_topology(
                postgres_admin_url, amqp_url, prefix="ma_e2e", progress=lambda _: None,
                gateway_port=free_port(), log_dir=log_dir, extra_env=TEST_ENV,
                services=services, ports={spec.name: [free_port()] for spec in services}
        ) as topo, Supervisor(topo.all_processes()) as supervisor:
            yield SupervisedTopology(topo, supervisor, log)
    except Exception:
        for path in sorted(log_dir.glob("*.log")):
            print(f"--- {path.name}\n{path.read_text()[-4000:]}")
        raise
    finally:
        logger.removeHandler(log)
        logger.setLevel(level)


@pytest.fixture
def gateway(platform_url: str) -> Iterator[httpx.Client]:
    """An HTTP client for the gateway URL — the only door the tests use."""
    with httpx.Client(base_url=platform_url, timeout=30) as client:
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


class Garage:
    """Creating vehicles through the gateway."""

    VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @classmethod
    def new_vin(cls) -> str:
        """A random well-formed VIN (17 characters, no I, O or Q)."""
        raw = uuid.uuid4().int
        return "".join(cls.VIN_CHARS[(raw >> (5 * i)) % len(cls.VIN_CHARS)] for i in range(17))

    def create(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {"vin": self.new_vin(), "make": "Honda", "model": "Civic", "year": 2020}
        body.update(fields)
        response = self.client.post("/api/vehicles/", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def garage(gateway: httpx.Client) -> Garage:
    return Garage(gateway)


@pytest.fixture
def member(users: Users) -> dict[str, Any]:
    """A freshly registered member: id and Authorization header."""
    body = users.register()
    return {"id": body["user"]["id"], "headers": bearer(body["accessToken"])}


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(name="bearer")
def bearer_fixture() -> Any:
    return bearer
