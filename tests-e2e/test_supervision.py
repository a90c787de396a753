"""A service process killed under ``make up``'s supervision, while other requests run.

Its routes answer the gateway's 503 with ``Retry-After`` while it is down, it is
restarted within seconds, and the other service answers 2xx throughout.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from testsupport.apps import wait_until

pytestmark = pytest.mark.processes_only

VEHICLES = "vehicles-1"


class Traffic:
    """``GET /api/auth/me/`` through the gateway in a loop, from a thread of its own."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    self.statuses.append(client.get("/api/auth/me/").status_code)
                except httpx.HTTPError:
                    self.statuses.append(0)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def not_2xx(self) -> list[int]:
        return [status for status in self.statuses if not 200 <= status < 300]


@pytest.fixture
def platform(supervised_topology: Any) -> Iterator[tuple[Any, httpx.Client, dict[str, str]]]:
    """The supervised platform, a client of its gateway and a member's headers."""
    with httpx.Client(base_url=supervised_topology.topology.url, timeout=30) as client:
        body = {"email": f"sup-{time.monotonic_ns()}@example.com", "password": "password123",
                "name": "Supervised"}
        registered = client.post("/api/auth/register/", json=body)
        assert registered.status_code == 201, registered.text
        headers = {"Authorization": f"Bearer {registered.json()['accessToken']}"}
        assert client.get("/api/vehicles/", headers=headers).status_code == 200
        yield supervised_topology, client, headers


def vehicles_exits(supervised: Any) -> list[dict[str, Any]]:
    """What the supervisor logged each time the vehicles process exited."""
    return list(supervised.log.events("process_exited", VEHICLES))


async def test_a_killed_service_is_back_within_seconds_and_the_others_keep_serving(
        platform: Any) -> None:
    supervised, client, headers = platform
    vehicles = supervised.topology.processes["vehicles"][0]
    exits_before = len(vehicles_exits(supervised))
    down: list[httpx.Response] = []

    def vehicles_answers() -> bool:
        response = client.get("/api/vehicles/", headers=headers)
        if response.status_code != 200:
            down.append(response)
        return response.status_code == 200

    with Traffic(supervised.topology.url, headers) as traffic:
        killed_at = time.monotonic()
        os.kill(vehicles.pid, signal.SIGKILL)
        # Once the supervisor has seen the exit, nothing listens on vehicles' port any more.
        await wait_until(lambda: len(vehicles_exits(supervised)) > exits_before, within=30)
        await wait_until(vehicles_answers, within=60, interval=0.05)
        back_after = time.monotonic() - killed_at
    exited = vehicles_exits(supervised)[-1]
    print(f"vehicles back {back_after:.2f} s after SIGKILL (restart delay "
          f"{exited['nextDelaySeconds']} s, attempt {exited['attempt']}); {len(down)} "
          f"requests to vehicles answered 503 meanwhile; auth answered "
          f"{len(traffic.statuses)} requests, {len(traffic.not_2xx())} not 2xx")
    assert exited["signal"] == "SIGKILL"
    assert supervised.log.events("process_restarted", VEHICLES)
    for response in down:
        assert response.status_code == 503
        assert response.json() == {"error": "Service unavailable: vehicles"}
        assert response.headers["Retry-After"] == "2"
    assert traffic.statuses and traffic.not_2xx() == []


async def test_while_a_killed_service_is_down_its_routes_are_503_with_retry_after(
        platform: Any) -> None:
    supervised, client, headers = platform
    vehicles = supervised.topology.processes["vehicles"][0]
    exits_before = len(vehicles_exits(supervised))
    with Traffic(supervised.topology.url, headers) as traffic:
        # Held: the restart waits until the block ends, so "down" is a state, not a race.
        with supervised.supervisor.holding(VEHICLES):
            os.kill(vehicles.pid, signal.SIGKILL)
            await wait_until(lambda: len(vehicles_exits(supervised)) > exits_before,
                             within=30)
            listing = client.get("/api/vehicles/", headers=headers)
            creating = client.post("/api/vehicles/", headers=headers, json={
                "vin": "1HGCM82633A004352", "make": "Honda", "model": "Civic", "year": 2020})
            released_at = time.monotonic()
        await wait_until(lambda: client.get("/api/vehicles/", headers=headers).status_code
                         == 200, within=60, interval=0.05)
        back_after = time.monotonic() - released_at
    print(f"vehicles back {back_after:.2f} s after its restart was released; auth answered "
          f"{len(traffic.statuses)} requests, {len(traffic.not_2xx())} not 2xx")
    for response in (listing, creating):
        assert response.status_code == 503
        assert response.json() == {"error": "Service unavailable: vehicles"}
        assert response.headers["Retry-After"] == "2"
    assert traffic.statuses and traffic.not_2xx() == []
