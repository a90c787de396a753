"""The issuer and audience of access tokens, as the gateway checks them."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from gateway.tests.conftest import KID, SIGNING_KEY, StandIn, bearer, make_token

FOREIGN_TOKENS = {
    "another issuer": {"iss": "https://someone-else.example"},
    "no issuer": {"iss": ...},
    "another audience": {"aud": "another-platform"},
    "no audience": {"aud": ...},
}


def _token(**overrides: Any) -> str:
    """A token of the test key with ``overrides`` (``...`` leaves the claim out)."""
    claims = jwt.decode(make_token(), options={"verify_signature": False}) | overrides
    return jwt.encode({k: v for k, v in claims.items() if v is not ...}, SIGNING_KEY,
                      algorithm="RS256", headers={"kid": KID})


@pytest.mark.parametrize("case", list(FOREIGN_TOKENS))
async def test_a_token_of_another_issuer_or_audience_is_401(gateway_client: Any,
                                                            case: str) -> None:
    service = StandIn()
    async with gateway_client({"vehicles": service}) as client:
        response = await client.get("/api/vehicles/",
                                    headers=bearer(_token(**FOREIGN_TOKENS[case])))
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert service.requests == []


async def test_the_issuer_and_audience_are_settings(gateway_client: Any) -> None:
    service = StandIn()
    ours = make_token(iss="https://auth.example", aud="example-api")
    async with gateway_client({"vehicles": service}, jwt_issuer="https://auth.example",
                              jwt_audience="example-api") as client:
        accepted = await client.get("/api/vehicles/", headers=bearer(ours))
        default = await client.get("/api/vehicles/", headers=bearer(make_token()))
    assert accepted.status_code == 200
    assert default.status_code == 401
