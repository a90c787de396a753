"""The chat service's tables: threads and their messages.

A thread belongs to one member (``user_id``); support staff read and write in every
thread. ``updated_at`` is the thread's last activity (its newest message's
``created_at``, or its own creation), which orders the thread list; ``last_message_id``
points at that newest message so the list needs one join, not a query per thread.

Message timestamps strictly increase within a thread (see ``chat.threads.post_message``),
so a message's ``createdAt`` is a lossless ``?since=`` cursor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.events import define_event_tables
from shared.models import new_id, timestamp_column, utcnow


class ChatTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, apart from other services'."""


class ChatThread(ChatTable, table=True):
    """A conversation between one member and the support staff."""

    __tablename__ = "chat_threads"
    __table_args__ = (
        Index("ix_chat_threads_user_updated", "user_id", "updated_at"),
        Index("ix_chat_threads_updated", "updated_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(max_length=64)
    subject: str | None = Field(default=None, max_length=200)
    # No foreign key: the thread row is locked and stamped before the message row exists.
    last_message_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ChatMessage(ChatTable, table=True):
    """One message; ``sender`` is ``user`` or ``support``, ``attachments`` file ids."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_thread_created", "thread_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    thread_id: str = Field(sa_column=Column(String(36), ForeignKey("chat_threads.id"),
                                            nullable=False))
    sender: str = Field(max_length=16)
    sender_id: str = Field(max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    attachments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


event_tables = define_event_tables(ChatTable.metadata)
