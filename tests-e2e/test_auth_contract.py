"""The Auth part of CONTRACT.md, through the gateway of the real topology."""

import jwt

from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER


def test_register_login_me(gateway, users, bearer):
    email = users.unique_email()
    registered = users.register(email=email, name="Jo", phone="+1555")
    logged_in = users.login(email, "password123")
    me = gateway.get("/api/auth/me/", headers=bearer(logged_in["accessToken"]))
    assert me.status_code == 200
    assert me.json() == registered["user"]
    assert me.headers["x-request-id"]


def test_paths_work_without_the_trailing_slash(gateway, users, bearer):
    token = users.register()["accessToken"]
    assert gateway.get("/api/auth/me", headers=bearer(token)).status_code == 200


def test_register_validation_errors(gateway, users):
    missing = gateway.post("/api/auth/register/", json={})
    assert missing.status_code == 400
    assert missing.json() == {"email": ["This field is required."],
                              "password": ["This field is required."]}
    email = users.unique_email()
    users.register(email=email)
    duplicate = gateway.post("/api/auth/register/", json={"email": email,
                                                          "password": "password123"})
    assert duplicate.status_code == 400
    assert duplicate.json() == {"error": "User with this email already exists"}
    short = gateway.post("/api/auth/register/", json={"email": users.unique_email(),
                                                      "password": "short"})
    assert short.status_code == 400 and "password" in short.json()


def test_an_unknown_referral_code_is_ignored_whatever_its_length(gateway, users):
    for code in ("REF-NOPE00", "R" * 45, "REF-" + "X" * 200_000):
        assert users.register(referralCode=code)["user"]["id"]


def test_invalid_credentials(gateway, users):
    email = users.unique_email()
    users.register(email=email)
    response = gateway.post("/api/auth/login/", json={"email": email, "password": "wrong-one"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


def test_refresh_rotation_and_logout(gateway, users, bearer):
    body = users.register()
    rotated = gateway.post("/api/auth/refresh/", json={"refreshToken": body["refreshToken"]})
    assert rotated.status_code == 200
    reused = gateway.post("/api/auth/refresh/", json={"refreshToken": body["refreshToken"]})
    assert reused.status_code == 401
    assert reused.json() == {"error": "Invalid refresh token"}
    fresh = users.login(body["user"]["email"], "password123")
    logout = gateway.post("/api/auth/logout/", json={"refreshToken": fresh["refreshToken"]},
                          headers=bearer(fresh["accessToken"]))
    assert logout.status_code == 204
    after = gateway.post("/api/auth/refresh/", json={"refreshToken": fresh["refreshToken"]})
    assert after.status_code == 401


def test_jwks_verifies_the_access_token(gateway, users):
    token = users.register()["accessToken"]
    jwks = gateway.get("/api/auth/jwks/").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"],
                        issuer=DEFAULT_ISSUER, audience=DEFAULT_AUDIENCE)
    assert claims["typ"] == "access"


def test_patch_me(gateway, users, bearer):
    token = users.register()["accessToken"]
    response = gateway.patch("/api/auth/me/", json={"name": "Renamed", "phone": "+1777"},
                             headers=bearer(token))
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["phone"]) == ("Renamed", "+1777")


def test_memberships(gateway, users, bearer):
    plans = gateway.get("/api/memberships/plans/")
    assert plans.status_code == 200
    assert sorted(p["tier"] for p in plans.json()) == ["basic", "elite", "plus", "premium"]
    body = users.register()
    headers = bearer(body["accessToken"])
    assert gateway.get("/api/memberships/me/", headers=headers).status_code == 404
    premium = next(p["id"] for p in plans.json() if p["tier"] == "premium")
    created = gateway.post("/api/memberships/", json={"planId": premium}, headers=headers)
    assert created.status_code == 201 and created.json()["tier"] == "premium"
    conflict = gateway.post("/api/memberships/", json={"planId": premium}, headers=headers)
    assert conflict.status_code == 409
    assert gateway.get("/api/auth/me/", headers=headers).json()["membershipId"] == \
        created.json()["id"]
    assert gateway.get("/api/memberships/me/", headers=headers).json()["status"] == "active"
    cancelled = gateway.post("/api/memberships/me/cancel/", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    unknown = gateway.post("/api/memberships/", json={"planId": "no-such-plan"},
                           headers=headers)
    assert unknown.status_code == 404


def test_admin_makes_a_support_user(gateway, users, bearer):
    member = users.register()
    forbidden = gateway.post(f"/api/auth/users/{member['user']['id']}/role/",
                             json={"role": "support"}, headers=bearer(member["accessToken"]))
    assert forbidden.status_code == 403
    promoted = gateway.post(f"/api/auth/users/{member['user']['id']}/role/",
                            json={"role": "support"}, headers=bearer(users.admin_token()))
    assert promoted.status_code == 200 and promoted.json()["role"] == "support"
