"""The gateway's HTTP edge, driven in memory (ASGI) with stand-in services."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.tests.conftest import OTHER_KEY, StandIn, bearer, make_token


async def test_unknown_prefix_is_json_404(gateway_client: Any) -> None:
    async with gateway_client() as client:
        for path in ("/api/nothing-here/", "/elsewhere", "/api/"):
            response = await client.get(path, headers=bearer())
            assert response.status_code == 404
            assert response.json() == {"error": "Not found"}


async def test_service_not_configured_is_503_with_retry_after(gateway_client: Any) -> None:
    async with gateway_client() as client:
        response = await client.get("/api/vehicles/", headers=bearer())
    assert response.status_code == 503
    assert response.json() == {"error": "Service unavailable: vehicles"}
    assert response.headers["Retry-After"] == "2"


async def test_service_down_is_503_with_retry_after(gateway_client: Any) -> None:
    from shared.net import free_port

    async with gateway_client(upstream_vehicles=f"http://127.0.0.1:{free_port()}") as client:
        response = await client.get("/api/vehicles/", headers=bearer())
    assert response.status_code == 503
    assert response.json() == {"error": "Service unavailable: vehicles"}
    assert response.headers["Retry-After"] == "2"


async def test_retry_after_of_a_503_is_a_setting(gateway_client: Any) -> None:
    async with gateway_client(upstream_unavailable_retry_after_seconds=7) as client:
        response = await client.post("/api/auth/login/", json={"email": "a@b.c"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"


async def test_slow_service_is_504(gateway_client: Any) -> None:
    slow = StandIn(delay=1.0)
    async with gateway_client({"vehicles": slow}, upstream_timeout_seconds=0.1) as client:
        response = await client.get("/api/vehicles/", headers=bearer())
    assert response.status_code == 504
    assert response.json() == {"error": "Service timed out: vehicles"}


async def test_broken_in_process_service_is_502(gateway_client: Any) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async with gateway_client({"vehicles": broken}) as client:
        response = await client.get("/api/vehicles/", headers=bearer())
    assert response.status_code == 502
    assert response.json() == {"error": "Bad gateway: vehicles"}
    assert "Retry-After" not in response.headers  # broken, not down: waiting may not help


@pytest.mark.parametrize(("path", "size", "status"), [
    ("/api/vehicles/", 1024 * 1024 + 1, 413),
    ("/api/vehicles/", 1024 * 1024, 200),
    ("/api/telematics/v1/", 2 * 1024 * 1024, 202),
    ("/api/telematics/v1/", 8 * 1024 * 1024 + 1, 413),
])
async def test_body_limit_by_content_length(gateway_client: Any, path: str, size: int,
                                            status: int) -> None:
    service = StandIn(status=200 if "vehicles" in path else 202)
    apps = {"vehicles": service, "telematics": service}
    async with gateway_client(apps) as client:
        response = await client.post(path, content=b"x" * size, headers=bearer())
    assert response.status_code == status
    if status == 413:
        assert "too large" in response.json()["error"]
        assert service.requests == []


async def test_chunked_body_over_limit_is_413(gateway_client: Any) -> None:
    service = StandIn()

    async def chunks() -> Any:
        for _ in range(20):
            yield b"y" * 1000

    async with gateway_client({"vehicles": service}, max_body_bytes=5000) as client:
        response = await client.post("/api/vehicles/", content=chunks(), headers=bearer())
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


async def test_chunked_body_under_limit_is_forwarded(gateway_client: Any) -> None:
    service = StandIn()

    async def chunks() -> Any:
        for _ in range(4):
            yield b"y" * 1000

    async with gateway_client({"vehicles": service}, max_body_bytes=5000) as client:
        response = await client.post("/api/vehicles/", content=chunks(), headers=bearer())
    assert response.status_code == 200
    assert response.json()["bodySize"] == 4000


async def test_failed_logins_per_email_are_limited(gateway_client: Any) -> None:
    auth = StandIn(status=401)
    async with gateway_client({"auth": auth}) as client:
        body = {"email": "Someone@Example.com", "password": "wrong-password"}
        for _ in range(5):
            response = await client.post("/api/auth/login/", json=body)
            assert response.status_code == 401
        response = await client.post("/api/auth/login/", json=body)
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert "error" in response.json()
        assert len(auth.requests) == 5
        # Another e-mail from the same client is still allowed.
        other = await client.post("/api/auth/login/", json={"email": "x@example.com",
                                                            "password": "p"})
        assert other.status_code == 401


async def test_failed_logins_per_ip_are_limited(gateway_client: Any) -> None:
    auth = StandIn(status=401)
    async with gateway_client({"auth": auth}, rate_limit_login_failures_per_ip=3) as client:
        for i in range(3):
            response = await client.post("/api/auth/login/",
                                         json={"email": f"u{i}@example.com", "password": "p"})
            assert response.status_code == 401
        response = await client.post("/api/auth/login/",
                                     json={"email": "new@example.com", "password": "p"})
        assert response.status_code == 429
        assert response.headers["Retry-After"]


async def test_successful_logins_are_not_limited(gateway_client: Any) -> None:
    auth = StandIn(status=200)
    async with gateway_client({"auth": auth}) as client:
        for _ in range(10):
            response = await client.post("/api/auth/login/",
                                         json={"email": "a@example.com", "password": "p"})
            assert response.status_code == 200
    # The login body reached auth unchanged.
    assert auth.requests[0]["body"] == b'{"email":"a@example.com","password":"p"}'


async def test_registrations_per_ip_are_limited(gateway_client: Any) -> None:
    auth = StandIn(status=201)
    async with gateway_client({"auth": auth}, rate_limit_register_per_ip=3) as client:
        for i in range(3):
            response = await client.post("/api/auth/register/",
                                         json={"email": f"r{i}@example.com", "password": "p"})
            assert response.status_code == 201
        response = await client.post("/api/auth/register/",
                                     json={"email": "r9@example.com", "password": "p"})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
    assert len(auth.requests) == 3


def _alg_none_token() -> str:
    import base64
    import json

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    return part({"alg": "none", "typ": "JWT", "kid": "test-key"}) + "." + part(
        {"sub": "u", "role": "admin", "exp": now + 600, "typ": "access"}) + "."


BAD_AUTHORIZATIONS = {
    "missing": None,
    "wrong signing key": f"Bearer {make_token(OTHER_KEY)}",
    "alg none": f"Bearer {_alg_none_token()}",
    "expired": f"Bearer {make_token(exp=int(time.time()) - 600, iat=int(time.time()) - 4000)}",
    "refresh token": f"Bearer {make_token(typ='refresh')}",
    "garbage": "Bearer not-a-token",
    "not bearer": "Basic dXNlcjpwYXNz",
}


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATIONS))
async def test_bad_tokens_are_401_and_never_reach_the_service(gateway_client: Any,
                                                              case: str) -> None:
    service = StandIn()
    authorization = BAD_AUTHORIZATIONS[case]
    headers = {"Authorization": authorization} if authorization else {}
    async with gateway_client({"vehicles": service, "auth": service}) as client:
        response = await client.get("/api/vehicles/", headers=headers)
        me = await client.get("/api/auth/me/", headers=headers)
    assert response.status_code == 401
    assert me.status_code == 401
    assert set(response.json()) == {"error"}
    assert service.requests == []


async def test_valid_token_is_forwarded_with_authorization(gateway_client: Any) -> None:
    service = StandIn()
    token = make_token()
    async with gateway_client({"vehicles": service}) as client:
        response = await client.get("/api/vehicles/", headers=bearer(token))
    assert response.status_code == 200
    assert service.requests[0]["headers"]["authorization"] == f"Bearer {token}"


async def test_forged_identity_headers_are_stripped(gateway_client: Any) -> None:
    service = StandIn()
    forged = {"X-User-Id": "someone-else", "X-User-Role": "admin", "X-User-Tier": "elite",
              "X-Forwarded-User": "admin", "X-Forwarded-For": "10.9.9.9",
              "X-Auth-User": "admin"}
    async with gateway_client({"vehicles": service}, client_ip="198.51.100.4") as client:
        response = await client.get("/api/vehicles/", headers={**bearer(), **forged})
    assert response.status_code == 200
    seen = service.requests[0]["headers"]
    for name in ("x-user-id", "x-user-role", "x-user-tier", "x-forwarded-user", "x-auth-user"):
        assert name not in seen
    assert seen["x-forwarded-for"] == "198.51.100.4"


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/auth/register/"), ("POST", "/api/auth/login/"),
    ("POST", "/api/auth/refresh/"), ("GET", "/api/auth/jwks/"),
    ("GET", "/api/memberships/plans/"), ("GET", "/api/memberships/plans"),
])
async def test_public_routes_pass_without_token(gateway_client: Any, method: str,
                                                path: str) -> None:
    auth = StandIn()
    async with gateway_client({"auth": auth}) as client:
        response = await client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 200
    assert len(auth.requests) == 1


async def test_path_without_trailing_slash_is_forwarded_with_one(gateway_client: Any) -> None:
    service = StandIn()
    async with gateway_client({"vehicles": service}) as client:
        response = await client.post("/api/vehicles?x=1", headers=bearer(), json={"a": 1})
        detail = await client.delete("/api/vehicles/abc", headers=bearer())
    assert response.status_code == 200
    assert [r["path"] for r in service.requests] == ["/api/vehicles/", "/api/vehicles/abc/"]
    assert service.requests[0]["query"] == "x=1"
    assert detail.status_code == 200


async def test_request_id_is_echoed(gateway_client: Any) -> None:
    service = StandIn()
    async with gateway_client({"vehicles": service}) as client:
        response = await client.get("/api/vehicles/",
                                    headers={**bearer(), "X-Request-ID": "client-id-1"})
        error = await client.get("/api/vehicles/", headers={"X-Request-ID": "client-id-2"})
    assert response.headers["X-Request-ID"] == "client-id-1"
    assert service.requests[0]["headers"]["x-request-id"] == "client-id-1"
    assert error.status_code == 401
    assert error.headers["X-Request-ID"] == "client-id-2"


async def test_request_id_is_generated(gateway_client: Any) -> None:
    service = StandIn()
    async with gateway_client({"vehicles": service}) as client:
        response = await client.get("/api/vehicles/", headers=bearer())
        not_found = await client.get("/nowhere")
    generated = response.headers["X-Request-ID"]
    assert len(generated) >= 16
    assert service.requests[0]["headers"]["x-request-id"] == generated
    assert not_found.headers["X-Request-ID"] not in ("", generated)


async def test_cors_preflight_passes_without_token(gateway_client: Any) -> None:
    service = StandIn()
    async with gateway_client({"vehicles": service}) as client:
        response = await client.options("/api/vehicles/", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        simple = await client.get("/api/vehicles/",
                                  headers={**bearer(), "Origin": "http://localhost:3000"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert service.requests[0]["method"] == "GET"


async def test_cors_unknown_origin_gets_no_allow_header(gateway_client: Any) -> None:
    async with gateway_client({"vehicles": StandIn()}) as client:
        response = await client.get("/api/vehicles/",
                                    headers={**bearer(), "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_health_endpoints(gateway_client: Any) -> None:
    async with gateway_client({"auth": StandIn()}) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        await client.get("/api/auth/jwks/")
        metrics = await client.get("/metrics")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["upstreams"]["auth"] == "up"
    assert ready.json()["upstreams"]["vehicles"] == "not deployed"
    assert 'gateway_requests_total{service="auth",status="200"}' in metrics.text


async def test_not_ready_without_auth(gateway_client: Any) -> None:
    async with gateway_client() as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["upstreams"]["auth"] == "not deployed"
