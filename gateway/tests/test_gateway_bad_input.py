"""Bad input at the gateway: bodies it parses itself, and every error it answers, as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.tests.conftest import StandIn, bearer
from shared import json_body


def nested(levels: int) -> bytes:
    return b"[" * (levels - 1) + b'{"email": "a@b.co"}' + b"]" * (levels - 1)


@pytest.mark.parametrize(("body", "message"), [
    (b"[" * 5000 + b"]" * 5000, json_body.TOO_DEEP),
    (nested(65), json_body.TOO_DEEP),
    (b"[" * 5000, json_body.TOO_DEEP),
    (json.dumps({"email": "a\u0000@b.co", "password": "x"}).encode(), json_body.UNSTORABLE),
    (b'{"email": "\\ud800@b.co", "password": "x"}', json_body.UNSTORABLE),
    ('{"email": "é@b.co"}'.encode("utf-16"), json_body.NOT_UTF8),
])
async def test_a_login_body_no_parser_should_take_is_400_json_and_never_forwarded(
        gateway_client: Any, body: bytes, message: str) -> None:
    auth = StandIn()
    async with gateway_client({"auth": auth}) as client:
        response = await client.post("/api/auth/login/", content=body,
                                     headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (400, {"error": message})
    assert response.headers["content-type"] == "application/json"
    assert auth.requests == []


async def test_a_login_body_64_levels_deep_goes_to_auth(gateway_client: Any) -> None:
    auth = StandIn()
    async with gateway_client({"auth": auth}) as client:
        response = await client.post("/api/auth/login/", content=nested(64),
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert len(auth.requests) == 1


async def test_a_refused_cors_preflight_is_json(gateway_client: Any) -> None:
    async with gateway_client({"vehicles": StandIn()}) as client:
        response = await client.options("/api/vehicles/", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert (response.status_code, response.json()) == (400,
                                                      {"error": "Disallowed CORS origin"})
    assert response.headers["content-type"] == "application/json"


async def test_a_failure_of_the_gateway_itself_is_500_json(gateway_client: Any) -> None:
    async def broken_proxy(*_: Any) -> None:
        raise RuntimeError("a bug in the gateway")

    client = gateway_client({"vehicles": StandIn()})
    client._transport.app.proxy = broken_proxy  # type: ignore[attr-defined]
    async with client:
        response = await client.get("/api/vehicles/", headers=bearer())
    assert (response.status_code, response.json()) == (500, {"error": "Internal server error"})
    assert response.headers["x-request-id"]
