"""Login and registration limits at the gateway: reserved before forwarding, on either store."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.dispatch import Gateway
from gateway.tests.conftest import JWKS, StandIn, bearer, no_upstreams
from shared.tokens import static_jwks_source

LOGIN = "/api/auth/login/"
REGISTER = "/api/auth/register/"
RIGHT_PASSWORD = "right-password"


class PasswordAuth:
    """Auth's login as far as the limits care: 200 for the right password, else 401.

    Each answer takes ``delay`` seconds, so concurrent attempts are all in flight at once.
    """

    def __init__(self, delay: float = 0.2) -> None:
        self.delay = delay
        self.logins = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.logins += 1
        await asyncio.sleep(self.delay)
        status = 200 if json.loads(body).get("password") == RIGHT_PASSWORD else 401
        out = b'{"accessToken": "t"}' if status == 200 else b'{"error": "Invalid credentials"}'
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})


Build = Callable[..., Any]


@pytest.fixture(params=["memory", "redis"])
async def gateway_on(request: pytest.FixtureRequest) -> AsyncIterator[Build]:
    """``gateway_on(local_apps, client_ip=..., **settings)``: a client of a gateway whose
    limits live in memory, or in Redis under this test's prefix (shared by every gateway
    the test builds, as replicas share it)."""
    store: dict[str, Any] = {}
    if request.param == "redis":
        store = {"redis_url": request.getfixturevalue("redis_url"),
                 "redis_key_prefix": request.getfixturevalue("redis_prefix")}
    async with _gateways() as build:
        yield lambda local_apps, **kw: build(local_apps, **store, **kw)


@asynccontextmanager
async def _gateways() -> AsyncIterator[Build]:
    apps: list[Gateway] = []
    clients: list[httpx.AsyncClient] = []

    def build(local_apps: dict[str, Any], client_ip: str = "203.0.113.7",
              **settings: Any) -> httpx.AsyncClient:
        app = create_app(no_upstreams(**settings), local_apps,
                         jwks_source=static_jwks_source(JWKS))
        apps.append(app)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(client_ip, 1)),
                                   base_url="http://gateway", timeout=30)
        clients.append(client)
        return client

    try:
        yield build
    finally:
        for client in clients:
            await client.aclose()
        for app in apps:
            await app.proxy.aclose()


def wrong_login(email: str = "victim@example.com") -> dict[str, str]:
    return {"email": email, "password": "guess"}


async def test_concurrent_wrong_logins_reach_auth_at_most_the_limit(gateway_on: Build) -> None:
    auth = PasswordAuth()
    client = gateway_on({"auth": auth})
    responses = await asyncio.gather(*(client.post(LOGIN, json=wrong_login())
                                       for _ in range(40)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) == 5
    assert statuses.count(429) == 35
    assert auth.logins == 5
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json() == {"error": "Too many failed login attempts, try again later"}


async def test_wrong_logins_through_two_gateways_share_the_limit(redis_url: str,
                                                                 redis_prefix: str) -> None:
    auth = PasswordAuth()
    async with _gateways() as build:
        clients = [build({"auth": auth}, redis_url=redis_url, redis_key_prefix=redis_prefix)
                   for _ in range(2)]
        responses = await asyncio.gather(*(clients[i % 2].post(LOGIN, json=wrong_login())
                                           for i in range(40)))
    assert [r.status_code for r in responses].count(401) == 5
    assert auth.logins == 5


async def test_successful_logins_spend_no_failure_budget(gateway_on: Build) -> None:
    client = gateway_on({"auth": PasswordAuth(delay=0)})
    right = {"email": "victim@example.com", "password": RIGHT_PASSWORD}
    for _ in range(4):
        assert (await client.post(LOGIN, json=wrong_login())).status_code == 401
    for _ in range(10):
        assert (await client.post(LOGIN, json=right)).status_code == 200
    assert (await client.post(LOGIN, json=wrong_login())).status_code == 401
    assert (await client.post(LOGIN, json=wrong_login())).status_code == 429
    # Five failures lock the e-mail, for the right password too.
    assert (await client.post(LOGIN, json=right)).status_code == 429


async def test_a_login_auth_refuses_as_malformed_is_not_a_failure(gateway_on: Build) -> None:
    auth = StandIn(status=400)
    client = gateway_on({"auth": auth})
    for _ in range(8):
        response = await client.post(LOGIN, json={"email": "victim@example.com"})
        assert response.status_code == 400
    assert len(auth.requests) == 8


async def test_concurrent_failures_from_one_address_reach_auth_at_most_its_limit(
        gateway_on: Build) -> None:
    auth = PasswordAuth()
    client = gateway_on({"auth": auth}, rate_limit_login_failures_per_ip=3)
    responses = await asyncio.gather(*(client.post(LOGIN, json=wrong_login(f"u{i}@example.com"))
                                       for i in range(20)))
    assert [r.status_code for r in responses].count(401) == 3
    assert auth.logins == 3


async def test_registrations_count_whatever_auth_answers(gateway_on: Build) -> None:
    auth = StandIn(status=409)  # an e-mail that has an account: it counts too
    client = gateway_on({"auth": auth}, rate_limit_register_per_ip=2)
    statuses = [(await client.post(REGISTER, json={"email": f"r{i}@example.com"})).status_code
                for i in range(4)]
    assert statuses == [409, 409, 429, 429]
    assert len(auth.requests) == 2


async def test_a_registration_no_service_answered_gives_its_slot_back(gateway_on: Build) -> None:
    client = gateway_on({}, rate_limit_register_per_ip=2)  # auth not deployed: 503
    statuses = [(await client.post(REGISTER, json={"email": "r@example.com"})).status_code
                for _ in range(5)]
    assert statuses == [503] * 5


async def test_a_limit_of_zero_is_off(gateway_on: Build) -> None:
    auth = PasswordAuth(delay=0)
    client = gateway_on({"auth": auth}, rate_limit_login_failures_per_email=0,
                        rate_limit_login_failures_per_ip=0)
    for _ in range(8):
        assert (await client.post(LOGIN, json=wrong_login())).status_code == 401


def _metric(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name))
    return float(line.rsplit(" ", 1)[1])


async def test_logins_fail_closed_while_redis_is_down(private_redis: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.ratelimit")
    auth = PasswordAuth(delay=0)
    vehicles = StandIn("vehicles")
    async with _gateways() as build:
        client = build({"auth": auth, "vehicles": vehicles}, redis_url=private_redis.url,
                       redis_key_prefix="outage:", rate_limit_register_per_ip=2)
        assert (await client.post(LOGIN, json=wrong_login())).status_code == 401
        private_redis.stop()

        for _ in range(10):
            refused = await client.post(LOGIN, json=wrong_login())
            assert refused.status_code == 503
            assert refused.json() == {"error": "Login is temporarily unavailable, try again later"}
            assert int(refused.headers["Retry-After"]) > 0
        assert auth.logins == 1
        # Requests no limit applies to never ask the store.
        assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
        # Registrations fall back to this gateway's memory: still limited.
        statuses = [(await client.post(REGISTER, json={"email": "r@example.com"})).status_code
                    for _ in range(3)]
        assert statuses[2] == 429
        metrics = (await client.get("/metrics")).text
        assert _metric(metrics, 'gateway_limit_store_up{backend="redis"}') == 0
        assert _metric(metrics, 'gateway_limit_store_errors_total{backend="redis"}') >= 11
        assert _metric(metrics, 'gateway_rejected_total{reason="limit_store_unavailable"}') == 10

        private_redis.start()
        assert (await client.post(LOGIN, json=wrong_login())).status_code == 401
        metrics = (await client.get("/metrics")).text
        assert _metric(metrics, 'gateway_limit_store_up{backend="redis"}') == 1
    events = [getattr(r, "event", None) for r in caplog.records
              if r.name == "gateway.ratelimit"]
    assert events == ["limit_store_down", "limit_store_up"]


async def test_memory_store_is_reported_up() -> None:
    async with _gateways() as build:
        metrics = (await build({}).get("/metrics")).text
    assert _metric(metrics, 'gateway_limit_store_up{backend="memory"}') == 1
    assert _metric(metrics, 'gateway_limit_store_errors_total{backend="memory"}') == 0


class LingeringAuth(PasswordAuth):
    """Auth that goes on working after its answer has left (as a service closing its
    session does): the client may send its next login before this one has returned."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await super().__call__(scope, receive, send)
        await asyncio.sleep(0.2)


async def test_a_login_right_after_a_successful_one_finds_its_slot_given_back(
        serve: Any) -> None:
    gateway = await serve(create_app(
        no_upstreams(rate_limit_login_failures_per_email=5), {"auth": LingeringAuth(delay=0)},
        jwks_source=static_jwks_source(JWKS)))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as client:
        async def login(password: str) -> int:
            response = await client.post(LOGIN, json={"email": "a@example.com",
                                                      "password": password})
            return response.status_code

        assert [await login("wrong") for _ in range(4)] == [401] * 4
        assert [await login(RIGHT_PASSWORD) for _ in range(3)] == [200] * 3
