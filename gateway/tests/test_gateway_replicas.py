"""A replica started while the gateway is busy takes its share of the traffic.

Two ways an orchestrator adds replicas, both real servers on real sockets here:
- behind one address, balanced per TCP connection (a Kubernetes ClusterIP Service,
  kube-proxy in IPVS round-robin mode): only new connections reach the new replica, so
  the gateway must retire its connections;
- as one more address of the service's name (Docker's DNS, a headless Service): the
  gateway must look the name up again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from gateway.http_upstream import HttpUpstream
from gateway.tests.conftest import StandIn, bearer
from gateway.upstream_pool import PoolLimits
from gateway.upstreams import fetch
from shared.net import free_port

CONCURRENCY = 8


class Balancer:
    """A TCP load balancer choosing a backend per connection, round-robin."""

    def __init__(self, backend: tuple[str, int]) -> None:
        self.backends = [backend]
        self._chosen = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.backends[self._chosen % len(self.backends)]
        self._chosen += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _requests(count: int, send: Any) -> list[int]:
    """``count`` requests, ``CONCURRENCY`` at a time: their statuses."""
    statuses: list[int] = []

    async def client(share: int) -> None:
        for _ in range(share):
            statuses.append(await send())

    await asyncio.gather(*[client(count // CONCURRENCY) for _ in range(CONCURRENCY)])
    return statuses


async def test_a_replica_added_behind_a_connection_balancer_gets_its_share(
        gateway_client: Any, serve: Any) -> None:
    first, second = StandIn("first"), StandIn("second")
    first_server = await serve(first)
    balancer = Balancer(("127.0.0.1", first_server.port))
    url = await balancer.start()
    try:
        async with gateway_client(upstream_telematics=url,
                                  upstream_connection_max_requests=20) as client:
            async def one() -> int:
                response = await client.get("/api/telematics/v/summary/", headers=bearer())
                return response.status_code

            assert set(await _requests(200, one)) == {200}  # every connection is warm
            second_server = await serve(second)
            balancer.backends.append(("127.0.0.1", second_server.port))
            first.requests.clear()
            assert set(await _requests(1000, one)) == {200}
    finally:
        balancer.close()
    assert len(first.requests) + len(second.requests) == 1000
    assert len(second.requests) >= 300, (len(first.requests), len(second.requests))


async def test_a_replica_added_to_the_services_name_gets_its_share(serve: Any) -> None:
    # Two replicas on one port of two loopback addresses, as two pods of one Service.
    port = free_port()
    first, second = StandIn("first"), StandIn("second")
    await serve(first, host="127.0.0.1", port=port)
    addresses = ["127.0.0.1"]

    async def resolver(host: str, _: int) -> list[str]:
        assert host == "telematics.internal"
        return list(addresses)

    upstream = HttpUpstream("telematics", [f"http://telematics.internal:{port}"],
                            limits=PoolLimits(resolve_interval=0.2, max_requests=20),
                            resolver=resolver)

    async def one() -> int:
        return (await fetch(upstream, "/api/telematics/v/summary/"))[0]

    try:
        assert set(await _requests(200, one)) == {200}
        await serve(second, host="127.0.0.2", port=port)
        addresses.append("127.0.0.2")
        await asyncio.sleep(0.3)  # past the resolve interval
        first.requests.clear()
        assert set(await _requests(1000, one)) == {200}
    finally:
        await upstream.aclose()
    assert len(second.requests) >= 300, (len(first.requests), len(second.requests))
    assert {r["server"][0] for r in second.requests} == {"127.0.0.2"}


async def test_an_address_that_refuses_is_skipped_and_a_failed_lookup_keeps_the_last(
        serve: Any) -> None:
    port = free_port()
    replica = StandIn()
    await serve(replica, host="127.0.0.2", port=port)
    answers: list[list[str] | OSError] = [["127.0.0.1", "127.0.0.2"],
                                          OSError("resolver unreachable")]

    async def resolver(host: str, _: int) -> list[str]:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, OSError):
            raise answer
        return answer

    upstream = HttpUpstream("vehicles", [f"http://vehicles.internal:{port}"],
                            limits=PoolLimits(resolve_interval=0, max_requests=1),
                            resolver=resolver)
    try:
        statuses = [(await fetch(upstream, "/api/vehicles/"))[0] for _ in range(6)]
    finally:
        await upstream.aclose()
    assert statuses == [200] * 6
    assert Counter(r["server"][0] for r in replica.requests) == {"127.0.0.2": 6}
