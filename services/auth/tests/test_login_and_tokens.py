"""Login, refresh rotation, logout and the access token's claims."""

import jwt

from auth.app import create_app
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER
from testsupport.apps import serve_in_process


async def test_login_returns_tokens_and_user(client, api):
    registered = await api.register(email="login@example.com")
    response = await client.post("/api/auth/login/", json={
        "email": "login@example.com", "password": "password123", "deviceId": "phone-1"})
    assert response.status_code == 200
    assert response.json()["user"]["id"] == registered["user"]["id"]


async def test_wrong_password_and_unknown_email_give_the_same_401(client, api):
    await api.register(email="known@example.com")
    wrong = await client.post("/api/auth/login/",
                              json={"email": "known@example.com", "password": "wrong-pass"})
    unknown = await client.post("/api/auth/login/",
                                json={"email": "nobody@example.com", "password": "password123"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "Invalid credentials"}


async def test_login_without_fields_is_400(client):
    response = await client.post("/api/auth/login/", json={})
    assert response.status_code == 400
    assert set(response.json()) == {"email", "password"}


async def test_access_token_is_rs256_with_kid_and_contract_claims(client, api):
    body = await api.register()
    header = jwt.get_unverified_header(body["accessToken"])
    claims = jwt.decode(body["accessToken"], options={"verify_signature": False})
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["sub"] == body["user"]["id"] and claims["typ"] == "access"
    assert claims["role"] == "member" and claims["tier"] is None
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"]
    assert (claims["iss"], claims["aud"]) == (DEFAULT_ISSUER, DEFAULT_AUDIENCE)
    jwks = (await client.get("/api/auth/jwks/")).json()
    assert [key["kid"] for key in jwks["keys"]] == [header["kid"]]


async def test_refresh_rotates_and_a_used_token_is_rejected(client, api):
    body = await api.register()
    first = await client.post("/api/auth/refresh/", json={"refreshToken": body["refreshToken"]})
    assert first.status_code == 200
    assert set(first.json()) == {"accessToken", "refreshToken"}
    again = await client.post("/api/auth/refresh/", json={"refreshToken": body["refreshToken"]})
    assert again.status_code == 401
    assert again.json() == {"error": "Invalid refresh token"}


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family(client, api):
    body = await api.register()
    rotated = (await client.post("/api/auth/refresh/",
                                 json={"refreshToken": body["refreshToken"]})).json()
    await client.post("/api/auth/refresh/", json={"refreshToken": body["refreshToken"]})
    stolen_successor = await client.post("/api/auth/refresh/",
                                         json={"refreshToken": rotated["refreshToken"]})
    assert stolen_successor.status_code == 401


async def test_an_access_token_is_not_a_refresh_token(client, api):
    body = await api.register()
    response = await client.post("/api/auth/refresh/", json={"refreshToken": body["accessToken"]})
    assert response.status_code == 401


async def test_a_refresh_token_is_not_an_access_token(client, api, bearer):
    body = await api.register()
    response = await client.get("/api/auth/me/", headers=bearer(body["refreshToken"]))
    assert response.status_code == 401
    assert "error" in response.json()


async def test_refresh_without_token_is_400_and_garbage_is_401(client):
    assert (await client.post("/api/auth/refresh/", json={})).status_code == 400
    garbage = await client.post("/api/auth/refresh/", json={"refreshToken": "garbage"})
    assert garbage.status_code == 401


async def test_logout_revokes_the_refresh_token(client, api, bearer):
    body = await api.register()
    response = await client.post("/api/auth/logout/", json={"refreshToken": body["refreshToken"]},
                                 headers=bearer(body["accessToken"]))
    assert response.status_code == 204
    refreshed = await client.post("/api/auth/refresh/", json={"refreshToken": body["refreshToken"]})
    assert refreshed.status_code == 401


async def test_logout_needs_a_bearer_token(client, api):
    body = await api.register()
    response = await client.post("/api/auth/logout/", json={"refreshToken": body["refreshToken"]})
    assert response.status_code == 401


async def test_tokens_carry_the_configured_issuer_and_audience(
        database_url, auth_settings_factory, api_factory, bearer):
    settings = auth_settings_factory(database_url, jwt_issuer="https://auth.example",
                                     jwt_audience="example-api")
    async with serve_in_process(create_app(settings)) as client:
        body = await api_factory(client).register()
        me = await client.get("/api/auth/me/", headers=bearer(body["accessToken"]))
        refreshed = await client.post("/api/auth/refresh/",
                                      json={"refreshToken": body["refreshToken"]})
    for token in (body["accessToken"], body["refreshToken"]):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["iss"], claims["aud"]) == ("https://auth.example", "example-api")
    assert me.status_code == 200 and refreshed.status_code == 200


async def test_tokens_of_another_issuer_or_audience_are_refused(
        database_url, auth_settings_factory, api_factory, bearer):
    # The same database, so the same signing key: only iss and aud differ.
    other = auth_settings_factory(database_url, jwt_issuer="https://elsewhere.example",
                                  jwt_audience="elsewhere")
    async with serve_in_process(create_app(other)) as client:
        foreign = await api_factory(client).register()
    async with serve_in_process(create_app(auth_settings_factory(database_url))) as client:
        me = await client.get("/api/auth/me/", headers=bearer(foreign["accessToken"]))
        refreshed = await client.post("/api/auth/refresh/",
                                      json={"refreshToken": foreign["refreshToken"]})
    assert me.status_code == 401 and "issuer" in me.json()["error"]
    assert refreshed.status_code == 401
