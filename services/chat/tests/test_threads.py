"""The storage rules of chat.threads, called directly (SQLite and PostgreSQL)."""

import asyncio
from datetime import UTC, datetime

import pytest

from chat import threads
from chat.models import ChatThread
from chat.schemas import Draft
from chat.threads import Participant, ThreadOwners, as_utc
from shared.errors import NotFound

MEMBER = Participant("member-1", staff=False)
OTHER = Participant("member-2", staff=False)
SUPPORT = Participant("advisor-1", staff=True)


@pytest.fixture
def db(app, client):
    return app.state.db


async def post(db, app, thread_id, author, body="hi"):
    async with db.session() as session:
        message, _ = await threads.post_message(session, app.state.outbox, thread_id, author,
                                                Draft(body, []), origin="test")
        return message


async def new_thread(db, owner=MEMBER):
    async with db.session() as session:
        return await threads.create_thread(session, owner, "Subject")


async def test_messages_of_a_thread_get_strictly_increasing_times_even_when_clocks_tie(
        db, app, monkeypatch):
    thread = await new_thread(db)
    frozen = datetime(2030, 1, 1, tzinfo=UTC)
    monkeypatch.setattr(threads, "utcnow", lambda: frozen)
    stored = [await post(db, app, thread.id, MEMBER, str(i)) for i in range(3)]
    times = [as_utc(m.created_at) for m in stored]
    assert times[0] == frozen and times[0] < times[1] < times[2]
    async with db.session() as session:
        after_first = await threads.list_messages(session, thread, times[0])
    assert [m.body for m in after_first] == ["1", "2"]


async def test_concurrent_posts_to_one_thread_are_stored_one_after_another(db, app):
    thread = await new_thread(db)
    await asyncio.gather(*(post(db, app, thread.id, MEMBER, str(i)) for i in range(8)))
    async with db.session() as session:
        stored = await threads.list_messages(session, thread)
        refreshed = await session.get(ChatThread, thread.id)
    times = [as_utc(m.created_at) for m in stored]
    assert len(stored) == 8 and times == sorted(set(times))
    # The thread's activity and last message are the newest message's.
    assert refreshed is not None and refreshed.last_message_id == stored[-1].id
    assert as_utc(refreshed.updated_at) == times[-1]


async def test_only_the_owner_and_staff_may_post(db, app):
    thread = await new_thread(db)
    with pytest.raises(NotFound):
        await post(db, app, thread.id, OTHER)
    with pytest.raises(NotFound):
        await post(db, app, "missing", SUPPORT)
    assert (await post(db, app, thread.id, SUPPORT)).sender == "support"
    assert (await post(db, app, thread.id, MEMBER)).sender == "user"
    async with db.session() as session:
        with pytest.raises(NotFound):
            await threads.get_thread(session, thread.id, OTHER)
        assert len(await threads.list_messages(session, thread)) == 2


async def test_thread_list_joins_the_last_message(db, app):
    quiet = await new_thread(db)
    busy = await new_thread(db)
    await post(db, app, busy.id, MEMBER, "first")
    await post(db, app, busy.id, SUPPORT, "latest")
    await new_thread(db, OTHER)
    async with db.session() as session:
        mine = await threads.list_threads(session, MEMBER)
        everyone = await threads.list_threads(session, SUPPORT)
    assert [(t.id, m.body if m else None) for t, m in mine] == [(busy.id, "latest"),
                                                               (quiet.id, None)]
    assert len(everyone) == 3


class CountingDatabase:
    """The app's database, counting the sessions opened through it."""

    def __init__(self, db):
        self.db = db
        self.sessions = 0

    def session(self):
        self.sessions += 1
        return self.db.session()


async def test_thread_owners_are_remembered_and_still_checked(db, app):
    thread = await new_thread(db)
    counting = CountingDatabase(db)
    owners = ThreadOwners(counting, capacity=1)
    assert await owners.owner_of(thread.id, MEMBER) == MEMBER.user_id
    with pytest.raises(NotFound):
        await owners.owner_of(thread.id, OTHER)  # remembered, still not theirs
    assert await owners.owner_of(thread.id, SUPPORT) == MEMBER.user_id
    assert counting.sessions == 1
    with pytest.raises(NotFound):
        await owners.owner_of("missing", SUPPORT)
    # At capacity 1, a second thread evicts the first, which is then looked up again.
    second = await new_thread(db, OTHER)
    assert await owners.owner_of(second.id, OTHER) == OTHER.user_id
    assert await owners.owner_of(thread.id, SUPPORT) == MEMBER.user_id
    assert counting.sessions == 4
