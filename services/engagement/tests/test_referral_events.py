"""The referral state machine driven by events: signed_up, then credited exactly once,
whatever the order and however often the events are delivered."""

import asyncio
import uuid

from engagement.events import outbox
from engagement.memberships import record_membership_event
from engagement.models import referrals
from engagement.referrals import credit_referral_of, record_referral
from shared.events import MemoryBus
from shared.models import utcnow
from testsupport.apps import wait_until


async def test_signup_with_a_code_then_activation_credits_once(api):
    referrer, code = await api.new_user()
    referred, _ = await api.new_user(referred_by=code)
    assert (await api.referral_of(referred)).status == "signed_up"
    await api.deliver(api.membership("activated", referred, "basic"))
    referral = await api.referral_of(referred)
    assert (referral.status, referral.rewards_applied) == ("credited", {"rewardsBalance": 1})
    assert await api.credited_events() == [{"referralId": referral.id,
                                            "referrerUserId": referrer,
                                            "referredUserId": referred, "reward": 1}]


async def test_every_event_delivered_twice_still_credits_once(api):
    referrer_id, code, referred = str(uuid.uuid4()), "REF-TWICE1", str(uuid.uuid4())
    events = [api.registered(referrer_id, code),
              api.registered(referred, "REF-TWICE2", referred_by=code),
              api.membership("activated", referred, "premium")]
    for event in events:
        await api.deliver(event, event)
    # A second activation (a new membership after a cancellation) is a new event id.
    membership_id = str(uuid.uuid4())
    await api.deliver(api.membership("cancelled", referred, "premium", membership_id),
                      api.membership("activated", referred, "elite"))
    assert len(await api.credited_events()) == 1
    assert (await api.referral_of(referred)).status == "credited"


async def test_activation_arriving_before_registration_credits_on_registration(api):
    referrer, code = await api.new_user()
    referred = str(uuid.uuid4())
    activated = api.membership("activated", referred, "basic")
    await api.deliver(activated, activated)
    assert await api.referral_of(referred) is None
    registered = api.registered(referred, "REF-LATE01", referred_by=code)
    await api.deliver(registered, registered)
    referral = await api.referral_of(referred)
    assert (referral.status, referral.referrer_user_id) == ("credited", referrer)
    assert len(await api.credited_events()) == 1


async def test_a_cancelled_membership_still_counts_as_activated(api):
    referrer, code = await api.new_user()
    referred, membership_id = str(uuid.uuid4()), str(uuid.uuid4())
    await api.deliver(api.membership("activated", referred, "basic", membership_id),
                      api.membership("cancelled", referred, "basic", membership_id))
    await api.deliver(api.registered(referred, "REF-CANC01", referred_by=code))
    assert (await api.referral_of(referred)).status == "credited"
    assert len(await api.credited_events()) == 1


async def test_referrer_unknown_at_signup_is_credited_once_the_code_is_learnt(api, peer):
    referrer, code, referred = str(uuid.uuid4()), "REF-EARLY1", str(uuid.uuid4())
    # The referrer's user.registered is late (or predates this service).
    await api.deliver(api.registered(referred, "REF-EARLY2", referred_by=code),
                      api.membership("activated", referred, "plus"))
    pending = await api.referral_of(referred)
    assert (pending.status, pending.referrer_user_id) == ("signed_up", None)
    assert await api.credited_events() == []
    # The referrer looks at their referrals: auth tells their code, the referral completes.
    peer.codes[referrer] = code
    [referral] = (await api.my_referrals(referrer)).json()["referrals"]
    assert (referral["referredUser"], referral["status"]) == (referred, "credited")
    # Their user.registered arriving after all changes nothing.
    await api.deliver(api.registered(referrer, code))
    assert [e["referrerUserId"] for e in await api.credited_events()] == [referrer]


async def test_self_referral_in_an_event_is_ignored(api):
    user_id, code = str(uuid.uuid4()), "REF-SELF01"
    await api.deliver(api.registered(user_id, code, referred_by=code),
                      api.membership("activated", user_id, "basic"))
    assert await api.referral_of(user_id) is None
    assert await api.count(referrals) == 0


async def test_the_first_referral_stands(api):
    first_referrer, first_code = await api.new_user()
    _, second_code = await api.new_user()
    referred = str(uuid.uuid4())
    await api.deliver(api.registered(referred, "REF-FIRST1", referred_by=first_code),
                      api.registered(referred, "REF-FIRST1", referred_by=second_code))
    assert (await api.referral_of(referred)).referrer_user_id == first_referrer


async def test_credited_event_is_published_to_the_bus(api):
    bus, seen = MemoryBus(), []

    async def record(event):
        seen.append(event)

    await bus.subscribe(f"test.{uuid.uuid4().hex}", ["referral.credited"], record)
    try:
        referrer, code = await api.new_user()
        referred, _ = await api.new_user(referred_by=code)
        await api.deliver(api.membership("activated", referred, "basic"))
        await wait_until(lambda: seen)
        assert (seen[0].producer, seen[0].data["referrerUserId"]) == ("engagement", referrer)
    finally:
        await bus.close()


async def _race(api, first, second) -> None:
    """Run ``first`` in one transaction and, while it is open, ``second`` in another:
    the second must wait for the first's lock, then see its write."""
    db = api.app.state.db
    async with db.session() as session_one, db.session() as session_two:
        await first(session_one)

        async def run_second() -> None:
            await second(session_two)
            await session_two.commit()

        task = asyncio.create_task(run_second())
        await asyncio.sleep(0.3)
        assert not task.done()  # blocked on the first transaction's lock
        await session_one.commit()
        async with asyncio.timeout(15):
            await task


async def test_concurrent_signup_and_activation_credit_once_signup_first(api):
    referrer, code = await api.new_user()
    referred = str(uuid.uuid4())

    async def signup(session):
        await record_referral(session, outbox, referred_user_id=referred, code=code)

    async def activation(session):
        await record_membership_event(session, referred, membership_id="m", tier="basic",
                                      active=True, occurred_at=utcnow())
        await credit_referral_of(session, outbox, referred)

    await _race(api, signup, activation)
    assert (await api.referral_of(referred)).status == "credited"
    assert len(await api.credited_events()) == 1


async def test_concurrent_signup_and_activation_credit_once_activation_first(api):
    referrer, code = await api.new_user()
    referred = str(uuid.uuid4())

    async def signup(session):
        await record_referral(session, outbox, referred_user_id=referred, code=code)

    async def activation(session):
        await record_membership_event(session, referred, membership_id="m", tier="basic",
                                      active=True, occurred_at=utcnow())
        await credit_referral_of(session, outbox, referred)

    await _race(api, activation, signup)
    assert (await api.referral_of(referred)).status == "credited"
    assert len(await api.credited_events()) == 1


async def test_two_concurrent_credits_publish_once(api):
    referrer, code = await api.new_user()
    referred, _ = await api.new_user(referred_by=code)

    async def activation(session):
        await record_membership_event(session, referred, membership_id=str(uuid.uuid4()),
                                      tier="basic", active=True, occurred_at=utcnow())
        await credit_referral_of(session, outbox, referred)

    await _race(api, activation, activation)
    assert len(await api.credited_events()) == 1
