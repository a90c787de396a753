"""GET/PATCH /api/auth/me/, the admin bootstrap and role changes."""



async def test_me_returns_the_stored_user(client, api, bearer):
    body = await api.register(name="Jane")
    response = await client.get("/api/auth/me/", headers=bearer(body["accessToken"]))
    assert response.status_code == 200
    assert response.json() == body["user"]


async def test_me_without_token_is_401_json(client):
    response = await client.get("/api/auth/me/")
    assert response.status_code == 401
    assert "error" in response.json()


async def test_patch_me_changes_name_and_phone_only(client, api, bearer):
    body = await api.register(name="Old")
    response = await client.patch("/api/auth/me/", headers=bearer(body["accessToken"]),
                                  json={"name": "New", "phone": "+15550001", "email": "x@y.z"})
    assert response.status_code == 200
    user = response.json()
    assert (user["name"], user["phone"], user["email"]) == ("New", "+15550001",
                                                            body["user"]["email"])


async def test_patch_me_rejects_bad_types(client, api, bearer):
    body = await api.register()
    response = await client.patch("/api/auth/me/", headers=bearer(body["accessToken"]),
                                  json={"name": 12})
    assert response.status_code == 400
    assert "name" in response.json()


async def test_admin_is_bootstrapped_and_can_make_support_users(client, api, bearer):
    admin_token = await api.login_admin()
    member = await api.register()
    response = await client.post(f"/api/auth/users/{member['user']['id']}/role/",
                                 json={"role": "support"}, headers=bearer(admin_token))
    assert response.status_code == 200
    assert response.json()["role"] == "support"
    me = await client.get("/api/auth/me/", headers=bearer(member["accessToken"]))
    assert me.json()["role"] == "support"
    refreshed = await client.post("/api/auth/refresh/",
                                  json={"refreshToken": member["refreshToken"]})
    import jwt

    claims = jwt.decode(refreshed.json()["accessToken"], options={"verify_signature": False})
    assert claims["role"] == "support"


async def test_members_cannot_change_roles(client, api, bearer):
    member = await api.register()
    response = await client.post(f"/api/auth/users/{member['user']['id']}/role/",
                                 json={"role": "admin"}, headers=bearer(member["accessToken"]))
    assert response.status_code == 403
    assert "error" in response.json()


async def test_role_change_for_unknown_user_is_404_and_bad_role_is_400(client, api, bearer):
    admin_token = await api.login_admin()
    unknown = await client.post("/api/auth/users/00000000-0000-0000-0000-000000000000/role/",
                                json={"role": "support"}, headers=bearer(admin_token))
    assert unknown.status_code == 404
    member = await api.register()
    bad = await client.post(f"/api/auth/users/{member['user']['id']}/role/",
                            json={"role": "king"}, headers=bearer(admin_token))
    assert bad.status_code == 400


async def test_patch_me_refuses_a_null_name_but_clears_the_phone(client, api, bearer):
    body = await api.register(phone="+1555")
    headers = bearer(body["accessToken"])
    null_name = await client.patch("/api/auth/me/", headers=headers, json={"name": None})
    assert null_name.status_code == 400
    assert null_name.json() == {"name": ["This field may not be null."]}
    cleared = await client.patch("/api/auth/me/", headers=headers, json={"phone": None})
    assert cleared.status_code == 200 and cleared.json()["phone"] is None
