"""POST /api/auth/register/ as CONTRACT.md describes it."""

import re

import pytest

from testsupport.apps import EventRecorder, wait_until


async def test_register_returns_tokens_and_the_user(client, api):
    body = await api.register(name="John Doe", phone="+1234567890")
    user = body["user"]
    assert set(body) == {"accessToken", "refreshToken", "user"}
    assert set(user) == {"id", "name", "email", "phone", "membershipId", "referralCode",
                         "rewardsBalance", "role", "createdAt"}
    assert user["name"] == "John Doe" and user["phone"] == "+1234567890"
    assert user["membershipId"] is None and user["rewardsBalance"] == 0
    assert user["role"] == "member"
    assert re.fullmatch(r"REF-[A-Z0-9]{6}", user["referralCode"])
    assert user["createdAt"].endswith("Z")


async def test_missing_email_and_password_are_field_errors(client, api):
    response = await client.post("/api/auth/register/", json={"name": "x"})
    assert response.status_code == 400
    assert response.json() == {"email": ["This field is required."],
                               "password": ["This field is required."]}


async def test_malformed_email_is_rejected(client, api):
    response = await client.post("/api/auth/register/",
                                  json={"email": "not-an-email", "password": "password123"})
    assert response.status_code == 400
    assert "email" in response.json()


async def test_short_password_is_rejected(client, api):
    response = await client.post("/api/auth/register/",
                                  json={"email": api.unique_email(), "password": "short"})
    assert response.status_code == 400
    assert "password" in response.json()


async def test_duplicate_email_is_rejected_case_insensitively(client, api):
    email = api.unique_email()
    await api.register(email=email)
    response = await client.post("/api/auth/register/",
                                  json={"email": email.upper(), "password": "password123"})
    assert response.status_code == 400
    assert response.json() == {"error": "User with this email already exists"}


async def test_unknown_referral_code_is_ignored(client, api):
    body = await api.register(referralCode="REF-NOPE00")
    assert body["user"]["id"]


@pytest.mark.parametrize("code", ["R" * 45, "REF-" + "X" * 100_000, "\\u0001\\u007f",
                                  "ref-\\t\\u00e9", "", "   "])
async def test_an_unknown_referral_code_of_any_length_or_content_is_ignored(client, api, code):
    # Sent as raw JSON: the escapes reach the service as control characters.
    email = api.unique_email()
    body = f'{{"email": "{email}", "password": "password123", "referralCode": "{code}"}}'
    response = await client.post("/api/auth/register/", content=body.encode(),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["user"]["email"] == email


@pytest.mark.parametrize("code", ["ref-abc\\u0000def", "\\ud800REF-ABCDEF"])
async def test_a_body_no_string_of_which_can_be_stored_is_400_whatever_the_field(client, api, code):
    # NUL and lone surrogates are refused for the whole body by the request guard, before
    # any field is read: the referral code gets no exception to that platform-wide rule.
    email = api.unique_email()
    body = f'{{"email": "{email}", "password": "password123", "referralCode": "{code}"}}'
    response = await client.post("/api/auth/register/", content=body.encode(),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "error" in response.json()


async def test_a_known_referral_code_is_matched_whatever_its_case_and_spaces(client, api):
    recorder = await EventRecorder().start("user.registered")
    referrer = (await api.register())["user"]
    referred = (await api.register(referralCode=f"  {referrer['referralCode'].lower()} "))
    await wait_until(lambda: any(e.data["userId"] == referred["user"]["id"]
                                 for e in recorder.of("user.registered")))
    await recorder.close()
    event = next(e for e in recorder.of("user.registered")
                 if e.data["userId"] == referred["user"]["id"])
    assert event.data["referredByCode"] == referrer["referralCode"]


async def test_malformed_json_is_a_400_not_a_422(client, api):
    response = await client.post("/api/auth/register/", content=b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert response.status_code == 400


async def test_each_user_gets_a_distinct_referral_code(client, api):
    codes = {(await api.register())["user"]["referralCode"] for _ in range(5)}
    assert len(codes) == 5


async def test_a_body_that_is_not_json_is_415(client):
    response = await client.post("/api/auth/register/", content=b"email=a@b.co",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "error" in response.json()


async def test_an_unknown_route_is_404_json(client):
    response = await client.get("/api/auth/nothing/")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


async def test_a_wrong_method_is_405_json(client):
    response = await client.delete("/api/auth/register/")
    assert response.status_code == 405
    assert "error" in response.json()
