"""The connection budget: every process's pool together stays below max_connections."""

from __future__ import annotations

import re

import httpx
import psycopg
import pytest

from launcher.budget import BudgetExceeded, ConnectionBudget, server_limits
from launcher.catalog import SERVICES
from shared.net import free_port
from shared.settings import ServiceSettings
from testsupport.topology import throwaway_topology


def test_the_local_topology_leaves_the_reserved_slots_and_the_headroom_free() -> None:
    budget = ConnectionBudget(max_connections=100, reserved=3, headroom=20,
                              processes=len(SERVICES))
    assert (budget.per_process, budget.pool_size, budget.max_overflow) == (11, 5, 6)
    assert budget.processes * budget.per_process <= 100 - 3 - 20


def test_replicas_shrink_every_process_share() -> None:
    # The e2e topology: two telematics and two chat processes.
    budget = ConnectionBudget(max_connections=100, reserved=3, headroom=20,
                              processes=len(SERVICES) + 2)
    assert (budget.per_process, budget.pool_size, budget.max_overflow) == (8, 4, 4)
    assert budget.env() == {"DATABASE_POOL_SIZE": "4", "DATABASE_MAX_OVERFLOW": "4"}


def test_a_topology_too_large_for_the_server_is_refused_with_what_to_do() -> None:
    budget = ConnectionBudget(max_connections=100, reserved=3, headroom=20, processes=40)
    with pytest.raises(BudgetExceeded, match="PgBouncer"):
        _ = budget.per_process


def test_a_lone_service_defaults_to_its_share_of_the_local_topology() -> None:
    budget = ConnectionBudget(max_connections=100, reserved=3, headroom=20,
                              processes=len(SERVICES))
    settings = ServiceSettings()
    assert (settings.database_pool_size, settings.database_max_overflow) == (
        budget.pool_size, budget.max_overflow)


def test_the_limits_are_read_from_the_server(postgres_admin_url: str) -> None:
    libpq = postgres_admin_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(libpq, autocommit=True) as connection:
        shown = connection.execute("SELECT current_setting('max_connections')::int, "
                                   "current_setting('superuser_reserved_connections')::int"
                                   ).fetchone()
    assert server_limits(postgres_admin_url) == shown


def test_each_process_of_a_topology_pools_its_share(postgres_admin_url: str,
                                                    amqp_url: str) -> None:
    needed = tuple(spec for spec in SERVICES if spec.name in ("auth", "vehicles"))
    with throwaway_topology(postgres_admin_url, amqp_url, prefix="ma_test_budget",
                            progress=lambda _: None, gateway_port=free_port(),
                            services=needed, ports={"auth": [free_port()],
                                                    "vehicles": [free_port(), free_port()]}
                            ) as topology:
        assert topology.budget is not None and topology.budget.processes == 3
        limits = []
        for process in topology.processes["vehicles"]:
            metrics = httpx.get(f"{process.url}/metrics", timeout=10).text
            found = re.search(r'^db_pool_connections_limit\{service="vehicles"\} (\S+)$',
                              metrics, re.MULTILINE)
            assert found, "the pool limit is missing from /metrics"
            limits.append(float(found.group(1)))
    assert limits == [topology.budget.per_process] * 2
