"""Who may attach whom to a code: the new user, or the code's owner for a newcomer (a user
who registered less than 24 hours ago and never activated a membership)."""

import asyncio
import uuid
from datetime import timedelta

import pytest

from engagement.referrals import NOT_A_NEWCOMER
from shared.models import utcnow

FORBIDDEN = (403, {"error": NOT_A_NEWCOMER})


async def test_the_codes_owner_may_attach_a_user_who_registered_23_hours_ago(api):
    referrer, code = await api.new_user()
    newcomer, _ = await api.new_user(registered_at=utcnow() - timedelta(hours=23))
    response = await api.apply(referrer, code=code, newUserId=newcomer)
    assert response.status_code == 200, response.text
    assert (response.json()["referrerUser"], response.json()["referredUser"],
            response.json()["status"]) == (referrer, newcomer, "signed_up")


async def test_the_codes_owner_may_not_attach_a_user_registered_over_a_day_ago(api):
    referrer, code = await api.new_user()
    veteran, _ = await api.new_user(registered_at=utcnow() - timedelta(hours=24, minutes=1))
    response = await api.apply(referrer, code=code, newUserId=veteran)
    assert (response.status_code, response.json()) == FORBIDDEN
    assert await api.referral_of(veteran) is None


async def test_the_user_registered_long_ago_may_still_apply_a_code_themselves(api):
    referrer, code = await api.new_user()
    veteran, _ = await api.new_user(registered_at=utcnow() - timedelta(days=400))
    response = await api.apply(veteran, code=code, newUserId=veteran)
    assert response.status_code == 200 and response.json()["referrerUser"] == referrer


@pytest.mark.parametrize("then_cancelled", [False, True])
async def test_the_codes_owner_may_not_attach_a_user_who_activated_a_membership(
        api, then_cancelled):
    referrer, code = await api.new_user()
    member, _ = await api.new_user()
    membership_id = str(uuid.uuid4())
    await api.deliver(api.membership("activated", member, "plus", membership_id))
    if then_cancelled:
        await api.deliver(api.membership("cancelled", member, "plus", membership_id))
    response = await api.apply(referrer, code=code, newUserId=member)
    assert (response.status_code, response.json()) == FORBIDDEN
    assert await api.referral_of(member) is None and await api.credited_events() == []


@pytest.mark.parametrize("settings_overrides", [{"referral_newcomer_wait_seconds": 0.2}])
async def test_a_user_never_heard_of_is_403_after_the_wait(api):
    referrer, code = await api.new_user()
    response = await api.apply(referrer, code=code, newUserId=str(uuid.uuid4()))
    assert (response.status_code, response.json()) == FORBIDDEN


@pytest.mark.parametrize("settings_overrides", [{"referral_newcomer_wait_seconds": 60}])
async def test_a_registration_arriving_while_the_owner_waits_is_attached(api):
    referrer, code = await api.new_user()
    newcomer = str(uuid.uuid4())
    attaching = asyncio.create_task(api.apply(referrer, code=code, newUserId=newcomer))
    await asyncio.sleep(0.2)  # the request is waiting for the event (not asserted on)
    assert not attaching.done()
    await api.deliver(api.registered(newcomer, "REF-LATE77"))
    response = await attaching
    assert response.status_code == 200 and response.json()["referredUser"] == newcomer


async def test_a_user_learnt_from_auth_counts_from_their_created_at(api, peer):
    referrer, code = await api.new_user()
    fresh, old = str(uuid.uuid4()), str(uuid.uuid4())
    peer.codes |= {fresh: "REF-FRESH1", old: "REF-OLD001"}
    peer.created_at |= {fresh: (utcnow() - timedelta(hours=1)).isoformat(),
                        old: "2020-01-01T00:00:00Z"}
    for user_id in (fresh, old):  # their first GET /me/ asks auth (no event yet)
        assert (await api.my_referrals(user_id)).status_code == 200
    assert (await api.apply(referrer, code=code, newUserId=fresh)).status_code == 200
    assert (await api.apply(referrer, code=code, newUserId=old)).json() == FORBIDDEN[1]


async def test_the_owner_attaching_a_newcomer_who_then_activates_credits_once(api):
    referrer, code = await api.new_user()
    newcomer, _ = await api.new_user()
    assert (await api.apply(referrer, code=code, newUserId=newcomer)).status_code == 200
    await api.deliver(api.membership("activated", newcomer, "basic"))
    referral = await api.referral_of(newcomer)
    assert (referral.status, referral.rewards_applied) == ("credited", {"rewardsBalance": 1})
    assert len(await api.credited_events()) == 1
