"""What the gateway itself guarantees: tokens at the edge, errors as JSON, limits."""

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER


def _token_claims(sub: str, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"sub": sub, "role": "admin", "tier": None, "typ": "access",
                                 "jti": str(uuid.uuid4()), "iat": now, "exp": now + 600,
                                 "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE}
    claims.update(overrides)
    return claims


def test_bad_tokens_are_401_json_at_the_gateway(gateway, users, bearer):
    body = users.register()
    real_kid = jwt.get_unverified_header(body["accessToken"])["kid"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header_b64 = body["accessToken"].split(".")[0]
    forged_none = jwt.encode(_token_claims(body["user"]["id"]), None, algorithm="none",
                             headers={"kid": real_kid})
    wrong_key = jwt.encode(_token_claims(body["user"]["id"]), other_key, algorithm="RS256",
                           headers={"kid": real_kid})
    expired_parts = body["accessToken"].split(".")
    candidates = {
        "wrong signing key": wrong_key,
        "alg none": forged_none,
        "refresh token": body["refreshToken"],
        "garbage": "not.a.token",
        "tampered": f"{header_b64}.{expired_parts[1][:-2]}xx.{expired_parts[2]}",
    }
    for name, token in candidates.items():
        response = gateway.get("/api/auth/me/", headers=bearer(token))
        assert response.status_code == 401, name
        assert "error" in response.json(), name
    assert gateway.get("/api/auth/me/").status_code == 401


def test_forged_identity_header_changes_nothing(gateway, users, bearer):
    alice = users.register()
    bob = users.register()
    response = gateway.get("/api/auth/me/", headers={**bearer(alice["accessToken"]),
                                                     "X-User-Id": bob["user"]["id"]})
    assert response.json()["id"] == alice["user"]["id"]


def test_unknown_prefix_is_404_json(gateway, users, bearer):
    token = users.register()["accessToken"]
    response = gateway.get("/api/nothing-here/", headers=bearer(token))
    assert response.status_code == 404
    assert "error" in response.json()


def test_oversized_body_is_413(gateway, users, bearer):
    token = users.register()["accessToken"]
    response = gateway.patch("/api/auth/me/", content=b"x" * (1024 * 1024 + 1),
                             headers={**bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "error" in response.json()


def test_login_flood_is_429_with_retry_after(gateway, users):
    email = users.unique_email()
    users.register(email=email)
    statuses = [gateway.post("/api/auth/login/", json={"email": email, "password": "bad-pass1"}
                             ).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    limited = gateway.post("/api/auth/login/", json={"email": email, "password": "password123"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "error" in limited.json()


def test_request_id_is_echoed(gateway):
    response = gateway.get("/api/memberships/plans/", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_health_and_schema(gateway):
    assert gateway.get("/healthz").status_code == 200
    assert gateway.get("/readyz").status_code == 200
    schema = gateway.get("/api/schema/").json()
    assert "/api/auth/register/" in schema["paths"]
    assert "swagger" in gateway.get("/api/docs/").text.lower()


@pytest.mark.processes_only
def test_a_stopped_service_is_503_json_until_it_is_back(gateway, users, bearer, topology):
    token = users.register()["accessToken"]
    auth = topology.processes["auth"][0]
    auth.stop()
    try:
        response = gateway.get("/api/auth/me/", headers=bearer(token))
        assert response.status_code == 503
        assert response.json() == {"error": "Service unavailable: auth"}
        assert response.headers["Retry-After"] == "2"
    finally:
        auth.start()
        topology.wait_ready(auth, progress=lambda _: None)
    assert gateway.get("/api/auth/me/", headers=bearer(token)).status_code == 200
