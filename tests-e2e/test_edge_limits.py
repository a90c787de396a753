"""The login limit holds under concurrency, through one gateway and through replicas sharing
Redis, and a per-address limit keys on what a trusted proxy says, never on a client's header.

The counts of each flood are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from launcher.catalog import GATEWAY_FACTORY
from launcher.local import Process, Topology
from shared.net import free_port

LOGIN = "/api/auth/login/"
PER_EMAIL = 5  # RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL in TEST_ENV
PER_ADDRESS = 10  # RATE_LIMIT_LOGIN_FAILURES_PER_IP of the Redis gateways
FLOOD = 40


@pytest.fixture(scope="module")
def redis_gateways(topology: Topology, redis_url: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two more gateway processes in front of the topology's services, sharing their limits
    in Redis (under a prefix of their own). They trust 127.0.0.1 as a proxy that writes
    ``Forwarded``, so each test names its own client address."""
    assert topology.gateway is not None
    prefix = f"ma-e2e:{uuid.uuid4().hex[:12]}:"
    env = {**topology.gateway.env, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix,
           "FORWARDED_ALLOW_IPS": "127.0.0.1", "FORWARDED_HEADER": "Forwarded",
           "RATE_LIMIT_LOGIN_FAILURES_PER_IP": str(PER_ADDRESS)}
    log_dir = Path(tmp_path_factory.mktemp("redis-gateways"))
    gateways = [Process(f"gateway-redis-{i}", free_port(), env, GATEWAY_FACTORY,
                        open(log_dir / f"gateway-{i}.log", "ab"))  # noqa: SIM115
                for i in (1, 2)]
    try:
        for gateway in gateways:
            gateway.start()
        for gateway in gateways:
            Topology.wait_ready(gateway, progress=lambda _: None)
        yield [gateway.url for gateway in gateways]
    finally:
        for gateway in gateways:
            gateway.stop()
        with Redis.from_url(redis_url) as client:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)


async def _flood(urls: list[str], email: str, headers: dict[str, str] | None = None
                 ) -> list[tuple[int, int]]:
    """``FLOOD`` wrong-password logins for ``email`` at once, spread over ``urls``:
    (gateway index, status) of each."""
    clients = [httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=FLOOD)) for url in urls]
    try:
        responses = await asyncio.gather(*(
            clients[i % len(urls)].post(LOGIN, json={"email": email, "password": "wrong-guess"},
                                        headers=headers) for i in range(FLOOD)))
    finally:
        for client in clients:
            await client.aclose()
    return [(i % len(urls), r.status_code) for i, r in enumerate(responses)]


def _report(what: str, results: list[tuple[int, int]]) -> tuple[int, int]:
    failed = sum(1 for _, status in results if status == 401)
    limited = sum(1 for _, status in results if status == 429)
    per_gateway = {g: sum(1 for i, s in results if i == g and s == 401)
                   for g in sorted({i for i, _ in results})}
    print(f"\n{what}: {FLOOD} concurrent wrong logins for one e-mail -> "
          f"401: {failed}, 429: {limited}, other: {FLOOD - failed - limited}; "
          f"401 per gateway: {per_gateway}")
    return failed, limited


async def test_concurrent_wrong_logins_for_one_email_reach_auth_at_most_the_limit(
        platform_url: str, platform_mode: str, users, gateway) -> None:
    email = users.unique_email()
    users.register(email=email)
    failed, limited = _report(f"one gateway ({platform_mode})",
                              await _flood([platform_url], email))
    assert 1 <= failed <= PER_EMAIL
    assert limited == FLOOD - failed
    # The e-mail is locked now, for the right password too.
    response = gateway.post(LOGIN, json={"email": email, "password": "password123"})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


def test_a_successful_login_spends_no_failure_budget(gateway, users) -> None:
    email = users.unique_email()
    users.register(email=email)

    def wrong() -> int:
        return gateway.post(LOGIN, json={"email": email, "password": "bad-pass1"}).status_code

    assert [wrong() for _ in range(PER_EMAIL - 1)] == [401] * (PER_EMAIL - 1)
    for _ in range(3):
        users.login(email, "password123")
    assert wrong() == 401
    assert wrong() == 429


@pytest.mark.processes_only
async def test_two_gateways_sharing_redis_let_the_limit_through_in_total(
        redis_gateways: list[str], users) -> None:
    email = users.unique_email()
    users.register(email=email)
    results = await _flood(redis_gateways, email, {"Forwarded": "for=198.51.100.40"})
    failed, limited = _report("two gateways sharing Redis", results)
    assert 1 <= failed <= PER_EMAIL
    assert limited == FLOOD - failed
    assert {i for i, status in results if status == 429} == {0, 1}


@pytest.mark.processes_only
def test_a_trusted_proxy_names_the_client(redis_gateways: list[str], users) -> None:
    def failures(url: str, client_address: str, count: int) -> list[int]:
        with httpx.Client(base_url=url, timeout=30) as client:
            return [client.post(LOGIN, json={"email": users.unique_email(), "password": "x"},
                                headers={"Forwarded": f"for={client_address}"}).status_code
                    for _ in range(count)]

    first, second = redis_gateways
    assert failures(first, "198.51.100.7", PER_ADDRESS) == [401] * PER_ADDRESS
    assert failures(second, "198.51.100.7", 1) == [429]
    assert failures(second, "198.51.100.8", 1) == [401]


@pytest.mark.processes_only
@pytest.mark.parametrize("source, header", [
    ("127.0.0.1", "X-Forwarded-For"),  # from the trusted proxy, but not the header it writes
    ("127.0.0.2", "Forwarded"),  # the right header, from a peer that is no trusted proxy
])
def test_a_clients_own_address_header_is_not_believed(redis_gateways: list[str], users,
                                                      source: str, header: str) -> None:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=redis_gateways[0], transport=transport, timeout=30) as client:
        statuses = [client.post(LOGIN, json={"email": users.unique_email(), "password": "x"},
                                headers={header: f"for=203.0.113.{n}" if header == "Forwarded"
                                         else f"203.0.113.{n}"}).status_code
                    for n in range(PER_ADDRESS + 1)]
    assert statuses == [401] * PER_ADDRESS + [429]
