"""Plans and memberships."""

import jwt


async def plan_id(client, tier):
    plans = (await client.get("/api/memberships/plans/")).json()
    return next(plan["id"] for plan in plans if plan["tier"] == tier)


async def test_four_plans_exist_from_the_first_start(client):
    response = await client.get("/api/memberships/plans/")
    assert response.status_code == 200
    plans = response.json()
    assert [(p["tier"], p["priceMonthly"]) for p in plans] == [
        ("basic", 59), ("plus", 79), ("premium", 99), ("elite", 159)]
    assert all(set(p) == {"id", "name", "tier", "priceMonthly", "features"} for p in plans)


async def test_activate_sets_membership_and_token_tier(client, api, bearer):
    body = await api.register()
    headers = bearer(body["accessToken"])
    response = await client.post("/api/memberships/",
                                 json={"planId": await plan_id(client, "plus")}, headers=headers)
    assert response.status_code == 201
    membership = response.json()
    assert set(membership) == {"id", "planId", "tier", "status", "startedAt", "nextBillingAt",
                               "cancelledAt"}
    assert membership["status"] == "active" and membership["tier"] == "plus"
    me = (await client.get("/api/auth/me/", headers=headers)).json()
    assert me["membershipId"] == membership["id"]
    refreshed = (await client.post("/api/auth/refresh/",
                                   json={"refreshToken": body["refreshToken"]})).json()
    claims = jwt.decode(refreshed["accessToken"], options={"verify_signature": False})
    assert claims["tier"] == "plus"


async def test_second_activation_is_409(client, api, bearer):
    headers = bearer((await api.register())["accessToken"])
    basic = await plan_id(client, "basic")
    assert (await client.post("/api/memberships/", json={"planId": basic},
                              headers=headers)).status_code == 201
    again = await client.post("/api/memberships/", json={"planId": basic}, headers=headers)
    assert again.status_code == 409


async def test_unknown_plan_is_404_and_missing_plan_is_400(client, api, bearer):
    headers = bearer((await api.register())["accessToken"])
    unknown = await client.post("/api/memberships/", json={"planId": "nope"}, headers=headers)
    assert unknown.status_code == 404
    missing = await client.post("/api/memberships/", json={}, headers=headers)
    assert missing.status_code == 400
    assert missing.json() == {"planId": ["This field is required."]}


async def test_me_is_404_without_membership_then_cancel_works(client, api, bearer):
    headers = bearer((await api.register())["accessToken"])
    assert (await client.get("/api/memberships/me/", headers=headers)).status_code == 404
    assert (await client.post("/api/memberships/me/cancel/", headers=headers)).status_code == 404
    await client.post("/api/memberships/", json={"planId": await plan_id(client, "elite")},
                      headers=headers)
    cancelled = await client.post("/api/memberships/me/cancel/", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelledAt"]
    current = await client.get("/api/memberships/me/", headers=headers)
    assert current.json()["status"] == "cancelled"
