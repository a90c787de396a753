"""``/api/referrals/``: the caller's code, link and referrals; applying a code."""

import uuid

import pytest

from engagement.models import referral_codes
from engagement.referrals import NOT_YOURS


async def test_me_gives_code_link_and_the_referrals_where_i_am_the_referrer(api):
    referrer, code = await api.new_user()
    referred, _ = await api.new_user(referred_by=code)
    await api.new_user()  # someone else's signup is not mine
    response = await api.my_referrals(referrer)
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["link"]) == (code, f"https://membershipauto.com/r/{code}")
    [referral] = body["referrals"]
    assert set(referral) == {"id", "referrerUser", "referredUser", "code", "status",
                             "rewardsApplied", "createdAt"}
    assert (referral["referrerUser"], referral["referredUser"], referral["code"]) == (
        referrer, referred, code)
    assert (referral["status"], referral["rewardsApplied"]) == ("signed_up", {})
    assert (await api.my_referrals(referred)).json()["referrals"] == []


@pytest.mark.parametrize("settings_overrides", [{"referral_link_base": "https://ma.test/join/"}])
async def test_the_link_base_is_configurable(api):
    user_id, code = await api.new_user()
    assert (await api.my_referrals(user_id)).json()["link"] == f"https://ma.test/join/{code}"


async def test_a_user_not_in_the_projection_yet_gets_the_code_from_auth_once(api, peer):
    user_id = str(uuid.uuid4())
    peer.codes[user_id] = "REF-NEW123"  # registered; the event is still on its way
    first = await api.my_referrals(user_id)
    assert (first.status_code, first.json()["code"]) == (200, "REF-NEW123")
    peer.down = True
    assert (await api.my_referrals(user_id)).json()["code"] == "REF-NEW123"
    assert peer.calls == ["/api/auth/me/"]
    # What auth said is remembered like the event would have been: the code is valid now.
    assert (await api.apply(str(uuid.uuid4()), code="REF-NEW123")).status_code == 200


async def test_auth_down_and_code_unknown_is_503(api, peer):
    peer.down = True
    response = await api.my_referrals(str(uuid.uuid4()))
    assert (response.status_code, response.json()) == (503,
                                                       {"error": "Service unavailable: auth"})


async def test_apply_without_new_user_checks_the_code(api):
    _, code = await api.new_user()
    caller = str(uuid.uuid4())
    response = await api.apply(caller, code=f" {code.lower()} ")
    assert (response.status_code, response.json()) == (
        200, {"message": "Referral code is valid", "code": code})
    unknown = await api.apply(caller, code="REF-NOPE00")
    assert (unknown.status_code, unknown.json()) == (400, {"error": "Invalid referral code"})
    missing = await api.apply(caller, newUserId=caller)
    assert (missing.status_code, missing.json()) == (400, {"code": ["This field is required."]})
    assert await api.count(referral_codes) == 1  # checking a code stores nothing


async def test_the_new_user_applies_a_code_once_and_gets_the_same_referral_again(api):
    referrer, code = await api.new_user()
    new_user, _ = await api.new_user()
    response = await api.apply(new_user, code=code, newUserId=new_user)
    assert response.status_code == 200
    referral = response.json()
    assert (referral["referrerUser"], referral["referredUser"], referral["code"],
            referral["status"], referral["rewardsApplied"]) == (
        referrer, new_user, code, "signed_up", {})
    again = await api.apply(new_user, code=code, newUserId=new_user)
    assert (again.status_code, again.json()) == (200, referral)
    by_owner = await api.apply(referrer, code=code, newUserId=new_user)
    assert (by_owner.status_code, by_owner.json()) == (200, referral)
    assert (await api.my_referrals(referrer)).json()["referrals"] == [referral]


async def test_nobody_else_may_apply_a_code_for_someone(api):
    _, code = await api.new_user()
    new_user, _ = await api.new_user()
    response = await api.apply(str(uuid.uuid4()), code=code, newUserId=new_user)
    assert (response.status_code, response.json()) == (403, {"error": NOT_YOURS})


async def test_own_code_is_a_400(api):
    user_id, code = await api.new_user()
    response = await api.apply(user_id, code=code, newUserId=user_id)
    assert (response.status_code, response.json()) == (
        400, {"error": "You cannot use your own referral code"})


async def test_a_user_referred_once_cannot_be_referred_with_another_code(api):
    first_referrer, first_code = await api.new_user()
    _, second_code = await api.new_user()
    new_user, _ = await api.new_user(referred_by=first_code)
    response = await api.apply(new_user, code=second_code, newUserId=new_user)
    assert (response.status_code, response.json()) == (
        409, {"error": "This user has already been referred with another code"})
    assert (await api.referral_of(new_user)).referrer_user_id == first_referrer


async def test_applying_for_a_user_who_already_activated_credits_at_once(api):
    referrer, code = await api.new_user()
    new_user = str(uuid.uuid4())
    await api.deliver(api.membership("activated", new_user, "plus"))
    response = await api.apply(new_user, code=code, newUserId=new_user)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["rewardsApplied"]) == (
        "credited", {"rewardsBalance": 1})
    assert await api.credited_events() == [{
        "referralId": response.json()["id"], "referrerUserId": referrer,
        "referredUserId": new_user, "reward": 1}]


async def test_bad_bodies_are_400(api):
    caller = api.bearer(api.token(str(uuid.uuid4())))
    for body in ({"code": ""}, {"code": None}, {"code": 12}, {"code": "REF-X", "newUserId": ""},
                 {"code": "REF-X", "newUserId": 7}):
        response = await api.client.post("/api/referrals/apply/", json=body, headers=caller)
        assert response.status_code == 400, body
    not_json = await api.client.post("/api/referrals/apply/", content=b"code=x",
                                     headers={**caller, "Content-Type": "text/plain"})
    assert not_json.status_code == 415
    assert (await api.client.get("/api/referrals/me/")).status_code == 401
