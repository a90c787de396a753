"""Threads and their messages: who may see what, and how a message is stored.

Plain async functions taking a session (routes, the socket and tests call them
alike). A member sees and writes in their own threads only; support staff (roles
``support`` and ``admin``) in every thread. Someone else's thread is reported as
missing, never as forbidden.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Table, Update, bindparam, func, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chat.models import ChatMessage, ChatThread
from chat.schemas import Draft
from shared.contracts.chat import MessageCreatedV1
from shared.db import Database
from shared.errors import NotFound
from shared.events import Outbox
from shared.models import new_id, utcnow
from shared.schemas import iso_z
from shared.tokens import Principal

THREAD_NOT_FOUND = "Thread not found"
STAFF_ROLES = frozenset({"support", "admin"})
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone taking part in chat: a member, or support staff (admins count as staff)."""

    user_id: str
    staff: bool

    @classmethod
    def of(cls, principal: Principal) -> Participant:
        """The participant a verified access token speaks for."""
        return cls(principal.user_id, principal.role in STAFF_ROLES)

    @property
    def sender(self) -> str:
        """What their messages say in ``sender``: ``support`` or ``user``."""
        return "support" if self.staff else "user"

    def may_see(self, owner_id: str) -> bool:
        """Whether they may read and write in a thread owned by ``owner_id``."""
        return self.staff or owner_id == self.user_id


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite hands timestamps back naive, in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def create_thread(session: AsyncSession, owner: Participant,
                        subject: str | None) -> ChatThread:
    """Open a thread owned by ``owner``; its activity starts now."""
    now = utcnow()
    thread = ChatThread(user_id=owner.user_id, subject=subject, created_at=now, updated_at=now)
    session.add(thread)
    await session.commit()
    return thread


async def list_threads(session: AsyncSession, viewer: Participant
                       ) -> list[tuple[ChatThread, ChatMessage | None]]:
    """The threads ``viewer`` may see with their newest message, newest activity first."""
    statement = (select(ChatThread, ChatMessage)
                 .outerjoin(ChatMessage, col(ChatMessage.id) == col(ChatThread.last_message_id))
                 .order_by(col(ChatThread.updated_at).desc(), col(ChatThread.id).desc()))
    if not viewer.staff:
        statement = statement.where(col(ChatThread.user_id) == viewer.user_id)
    return [(thread, message) for thread, message in (await session.exec(statement)).all()]


async def get_thread(session: AsyncSession, thread_id: str, viewer: Participant) -> ChatThread:
    """Thread ``thread_id``; 404 when it does not exist or ``viewer`` may not see it."""
    thread = await session.get(ChatThread, thread_id)
    if thread is None or not viewer.may_see(thread.user_id):
        raise NotFound(THREAD_NOT_FOUND)
    return thread


async def list_messages(session: AsyncSession, thread: ChatThread,
                        since: datetime | None = None) -> list[ChatMessage]:
    """The thread's messages, oldest first; only those created strictly after ``since``."""
    statement = select(ChatMessage).where(col(ChatMessage.thread_id) == thread.id)
    if since is not None:
        # UTC, because SQLite compares the stored UTC wall-clock text.
        statement = statement.where(col(ChatMessage.created_at) > as_utc(since))
    statement = statement.order_by(col(ChatMessage.created_at), col(ChatMessage.id))
    return list((await session.exec(statement)).all())


# The statements of the hot path, built once: a message costs no statement
# construction or cache-key computation, and runs as Core on the session's connection.
_THREADS: Table = ChatThread.__table__  # type: ignore[attr-defined]
_MESSAGES: Table = ChatMessage.__table__  # type: ignore[attr-defined]
_NOW = bindparam("p_now", type_=DateTime(timezone=True))


def _claim(*, members_only: bool) -> Update:
    statement = update(_THREADS).where(_THREADS.c.id == bindparam("p_thread"))
    if members_only:
        statement = statement.where(_THREADS.c.user_id == bindparam("p_user"))
    return statement


_STAMP = {  # PostgreSQL: claim, stamp and read back in one statement
    members_only: _claim(members_only=members_only)
    .values(last_message_id=bindparam("p_message"),
            updated_at=func.greatest(_THREADS.c.updated_at + _TICK, _NOW))
    .returning(_THREADS.c.user_id, _THREADS.c.updated_at)
    for members_only in (False, True)}
_CLAIM = {members_only: _claim(members_only=members_only)
          .values(last_message_id=bindparam("p_message")) for members_only in (False, True)}
_LAST_ACTIVITY = (select(_THREADS.c.user_id, _THREADS.c.updated_at)
                  .where(_THREADS.c.id == bindparam("p_thread")))
_SET_ACTIVITY = (update(_THREADS).where(_THREADS.c.id == bindparam("p_thread"))
                 .values(updated_at=_NOW))
_INSERT_MESSAGE = insert(_MESSAGES)


async def post_message(session: AsyncSession, outbox: Outbox, thread_id: str,
                       author: Participant, draft: Draft, *,
                       origin: str) -> tuple[ChatMessage, dict[str, Any]]:
    """Store ``draft`` in the thread, stage ``chat.message.created`` and commit.

    Returns the message and the event's data (what every replica needs to push it to
    sockets). ``origin`` names this process, so it can skip its own broadcast copy.
    Raises 404 when the thread does not exist or the author may not write in it.
    """
    message_id = new_id()
    stamped = await _stamp_thread(session, thread_id, author, message_id)
    if stamped is None:
        await session.rollback()
        raise NotFound(THREAD_NOT_FOUND)
    owner_id, created_at = stamped
    message = ChatMessage(id=message_id, thread_id=thread_id, sender=author.sender,
                          sender_id=author.user_id, body=draft.body,
                          attachments=draft.attachments, created_at=created_at)
    connection = await session.connection()
    await connection.execute(_INSERT_MESSAGE, {
        "id": message.id, "thread_id": message.thread_id, "sender": message.sender,
        "sender_id": message.sender_id, "body": message.body,
        "attachments": message.attachments, "created_at": message.created_at})
    event = await outbox.add(session, message_event(message, owner_id, origin=origin))
    await session.commit()
    return message, event.data


async def _stamp_thread(session: AsyncSession, thread_id: str, author: Participant,
                        message_id: str) -> tuple[str, datetime] | None:
    """Claim the thread for a new message: ``(owner id, the message's time)``, or None
    when the thread does not exist or the author may not write in it.

    The claim is an ``UPDATE`` (a row lock on PostgreSQL, the write lock on SQLite), so
    the messages of one thread are stored one at a time and each gets a time strictly
    after the previous one, even when clocks tie or a replica's clock lags: a message
    never becomes visible with a time older than one a client has already seen, and
    ``?since=<createdAt>`` misses nothing. The thread's activity moves to that time.
    """
    connection = await session.connection()
    members_only = not author.staff
    params = {"p_thread": thread_id, "p_user": author.user_id, "p_message": message_id,
              "p_now": utcnow()}
    if connection.dialect.name == "postgresql":
        row = (await connection.execute(_STAMP[members_only], params)).first()
        return None if row is None else (row[0], as_utc(row[1]))
    # SQLite stores timestamps as text (no arithmetic): claim, read, then stamp.
    if (await connection.execute(_CLAIM[members_only], params)).rowcount == 0:
        return None
    owner_id, last_activity = (await connection.execute(_LAST_ACTIVITY, params)).one()
    created_at = max(params["p_now"], as_utc(last_activity) + _TICK)
    await connection.execute(_SET_ACTIVITY, {"p_thread": thread_id, "p_now": created_at})
    return owner_id, created_at


def message_event(message: ChatMessage, owner_id: str, *, origin: str) -> MessageCreatedV1:
    """``chat.message.created`` of ``message`` in the thread of ``owner_id``, stored by
    the replica ``origin``."""
    return MessageCreatedV1(
        message_id=message.id, thread_id=message.thread_id, user_id=owner_id,
        sender=message.sender, sender_id=message.sender_id, body=message.body,
        attachments=list(message.attachments), created_at=iso_z(message.created_at),
        origin=origin)


class ThreadOwners:
    """A bounded, least-recently-used memo of thread id -> owner id.

    A thread never changes owner and is never deleted, so an entry never goes stale;
    ``TYPING`` frames, which store nothing, then cost no database round trip.
    """

    def __init__(self, database: Database, capacity: int = 10_000) -> None:
        self._database = database
        self._capacity = capacity
        self._owners: OrderedDict[str, str] = OrderedDict()

    async def owner_of(self, thread_id: str, viewer: Participant) -> str:
        """The owner of a thread ``viewer`` may see; 404 otherwise."""
        owner = self._owners.get(thread_id)
        if owner is None:
            async with self._database.session() as session:
                owner = (await get_thread(session, thread_id, viewer)).user_id
            self._owners[thread_id] = owner
            if len(self._owners) > self._capacity:
                self._owners.popitem(last=False)
        else:
            self._owners.move_to_end(thread_id)
        if not viewer.may_see(owner):
            raise NotFound(THREAD_NOT_FOUND)
        return owner
