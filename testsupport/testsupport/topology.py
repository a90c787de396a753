"""A started local topology on databases and a RabbitMQ vhost of its own, for tests and
benchmarks."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from launcher.local import Topology
from testsupport import infra


@contextlib.contextmanager
def throwaway_topology(postgres_admin_url: str, amqp_url: str, *, prefix: str,
                       progress: Callable[[str], None] = print,
                       **options: Any) -> Iterator[Topology]:
    """A started topology on databases and a RabbitMQ vhost of its own, all dropped after.

    For tests and benchmarks: nothing it stores or publishes reaches another platform on
    the same PostgreSQL server or broker. ``options`` are ``Topology``'s fields.
    """
    run_id = uuid.uuid4().hex[:8]
    databases: list[str] = []

    def database_url(service: str) -> str:
        url = infra.with_database(postgres_admin_url, f"{prefix}_{run_id}_{service}")
        databases.append(url)
        return url

    vhost_url, drop_vhost = infra.create_throwaway_vhost(amqp_url, prefix=prefix)
    topology = Topology(database_url, amqp_url=vhost_url, **options)
    try:
        topology.start(progress=progress)
        yield topology
    finally:
        topology.stop()
        for url in databases:
            infra.drop_database(postgres_admin_url, url)
        drop_vhost()
