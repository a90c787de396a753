"""The PostgreSQL connection budget: how many connections each service process may pool.

PostgreSQL refuses a connection beyond ``max_connections`` ("sorry, too many clients
already"), an administrator's ``psql`` included. The services connect as a superuser
here, so not even the ``superuser_reserved_connections`` are safe from them unless the
pools leave them alone. The budget therefore shares out only what remains after those
and a headroom::

    for pools   = max_connections - superuser_reserved_connections - headroom
    per process = for pools // service processes       (the gateway holds none)
    DATABASE_POOL_SIZE = per process // 2, DATABASE_MAX_OVERFLOW = the rest

The headroom is for whoever is not a pool: administrators and ad-hoc ``psql``, tools
(backups, benchmarks), and a process starting while the others are at full pool. A
process's own start-up connection (``ensure_database_exists``, then the migrations) is
closed before its pool opens the first one, so it fits in the process's share; its
readiness check uses the pool.

``make up`` and the tests' and benchmarks' throwaway topologies (``launcher.local``) size
every process from this; README's "Connection budget" shows the figures. Behind
PgBouncer (compose) the pools are PgBouncer's clients instead, and the same arithmetic
sizes PgBouncer's own server connections.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT_HEADROOM = 20
"""Connections kept out of every pool (``DATABASE_CONNECTION_HEADROOM`` for ``make up``)."""

MIN_PER_PROCESS = 2


class BudgetExceeded(ValueError):
    """The topology has more processes than PostgreSQL can give a useful pool each."""


@dataclass(frozen=True)
class ConnectionBudget:
    """PostgreSQL's limits and the number of processes that share them."""

    max_connections: int
    reserved: int  # superuser_reserved_connections
    headroom: int
    processes: int

    @property
    def for_pools(self) -> int:
        """Connections the pools of every process may hold together."""
        return self.max_connections - self.reserved - self.headroom

    @property
    def per_process(self) -> int:
        """Connections one process may hold: ``DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW``."""
        share = self.for_pools // max(self.processes, 1)
        if share < MIN_PER_PROCESS:
            raise BudgetExceeded(
                f"PostgreSQL's max_connections={self.max_connections} leaves {self.for_pools} "
                f"connections for {self.processes} service processes, fewer than "
                f"{MIN_PER_PROCESS} each: raise max_connections, lower the headroom, or put "
                "PgBouncer in front (README, Connection budget)")
        return share

    @property
    def pool_size(self) -> int:
        """Connections a process keeps once it has needed them."""
        return self.per_process // 2

    @property
    def max_overflow(self) -> int:
        """Connections a process opens beyond ``pool_size`` under load, closed once idle."""
        return self.per_process - self.pool_size

    def env(self) -> dict[str, str]:
        """The settings that give a service process its share."""
        return {"DATABASE_POOL_SIZE": str(self.pool_size),
                "DATABASE_MAX_OVERFLOW": str(self.max_overflow)}

    def describe(self) -> str:
        """One line for a launcher's output."""
        return (f"connection budget: {self.processes} processes x {self.per_process} "
                f"({self.pool_size} + {self.max_overflow} overflow) = "
                f"{self.processes * self.per_process} of max_connections "
                f"{self.max_connections} ({self.reserved} reserved for superusers, "
                f"{self.headroom} headroom)")


def server_limits(postgres_url: str) -> tuple[int, int]:
    """``max_connections`` and ``superuser_reserved_connections`` of the server at
    ``postgres_url`` (any database on it; SQLAlchemy or libpq form)."""
    import psycopg

    parts = urlsplit(postgres_url)
    conninfo = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        row = connection.execute(
            "SELECT current_setting('max_connections')::int, "
            "current_setting('superuser_reserved_connections')::int").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def budget_of_server(postgres_url: str, *, processes: int,
                     headroom: int = DEFAULT_HEADROOM) -> ConnectionBudget:
    """The budget of ``processes`` service processes on the server at ``postgres_url``."""
    max_connections, reserved = server_limits(postgres_url)
    return ConnectionBudget(max_connections=max_connections, reserved=reserved,
                            headroom=headroom, processes=processes)
