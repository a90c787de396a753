"""The offer catalogue: admins create, change and delete offers; nobody else may."""

import uuid


async def test_admin_creates_an_offer_with_every_field(api):
    offer = await api.create_offer(
        title="  Spring Maintenance Special ", description="20% off", terms="Once per visit",
        expiry="2030-03-31T23:59:59+02:00", eligibleMemberships=["basic", "plus", "basic"],
        locations=["loc-1", "loc-2"])
    assert set(offer) == {"id", "title", "description", "terms", "expiry",
                          "eligibleMemberships", "locations", "createdAt"}
    assert offer["title"] == "Spring Maintenance Special"
    assert offer["expiry"] == "2030-03-31T21:59:59Z"
    assert offer["eligibleMemberships"] == ["basic", "plus"]
    assert offer["locations"] == ["loc-1", "loc-2"]
    assert offer["createdAt"].endswith("Z")


async def test_only_title_is_required(api):
    offer = await api.create_offer(title="Free wash")
    assert (offer["description"], offer["terms"], offer["expiry"]) == ("", "", None)
    assert (offer["eligibleMemberships"], offer["locations"]) == ([], [])


async def test_validation_errors_are_a_field_map(api):
    missing = await api.client.post("/api/offers/", json={"description": "x"},
                                    headers=api.admin)
    assert (missing.status_code, missing.json()) == (400, {"title": ["This field is required."]})
    for field, value in [("title", "  "), ("title", None), ("title", 5),
                         ("eligibleMemberships", ["gold"]), ("eligibleMemberships", "basic"),
                         ("locations", [""]), ("locations", "loc-1"),
                         ("expiry", "next tuesday"), ("expiry", 1893456000)]:
        response = await api.client.post("/api/offers/", json={"title": "T", field: value},
                                         headers=api.admin)
        assert response.status_code == 400, (field, value)
        assert field in response.json(), (field, value, response.json())


async def test_members_may_not_manage_offers(api):
    offer = await api.create_offer()
    member = api.bearer(api.token(str(uuid.uuid4()), tier="elite"))
    path = f"/api/offers/{offer['id']}/"
    for response in [await api.client.post("/api/offers/", json={"title": "x"}, headers=member),
                     await api.client.patch(path, json={"title": "x"}, headers=member),
                     await api.client.delete(path, headers=member)]:
        assert response.status_code == 403 and "error" in response.json()
    assert (await api.client.post("/api/offers/", json={"title": "x"})).status_code == 401
    assert (await api.client.get("/api/offers/")).status_code == 401


async def test_patch_changes_only_the_fields_sent(api):
    offer = await api.create_offer(title="Old", description="Kept",
                                   expiry="2030-01-01T00:00:00Z", eligibleMemberships=["plus"])
    path = f"/api/offers/{offer['id']}/"
    response = await api.client.patch(path, json={"title": "New", "expiry": None,
                                                  "eligibleMemberships": []}, headers=api.admin)
    assert response.status_code == 200
    assert response.json() == {**offer, "title": "New", "expiry": None,
                               "eligibleMemberships": []}
    for field in ("title", "eligibleMemberships", "locations"):
        bad = await api.client.patch(path, json={field: None}, headers=api.admin)
        assert (bad.status_code, bad.json()) == (400, {field: ["This field may not be null."]})


async def test_delete_then_the_offer_is_gone(api):
    offer = await api.create_offer(title="Short-lived")
    path = f"/api/offers/{offer['id']}/"
    assert (await api.client.delete(path, headers=api.admin)).status_code == 204
    assert await api.offer_titles() == []
    for response in [await api.client.delete(path, headers=api.admin),
                     await api.client.patch(path, json={"title": "x"}, headers=api.admin)]:
        assert (response.status_code, response.json()) == (404, {"error": "Offer not found"})


async def test_health_and_openapi(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    schema = (await client.get("/openapi.json")).json()
    assert {"/api/offers/", "/api/offers/{offer_id}/", "/api/referrals/me/",
            "/api/referrals/apply/"} <= set(schema["paths"])
    assert "422" not in schema["paths"]["/api/offers/"]["post"]["responses"]
