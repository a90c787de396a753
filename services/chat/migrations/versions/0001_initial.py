"""Threads, messages, event tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("last_message_id", sa.String(36), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # A member's threads, newest activity first; and every thread for support staff.
    op.create_index("ix_chat_threads_user_updated", "chat_threads", ["user_id", "updated_at"])
    op.create_index("ix_chat_threads_updated", "chat_threads", ["updated_at"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("thread_id", sa.String(36), sa.ForeignKey("chat_threads.id"), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_chat_messages_thread_created", "chat_messages",
                    ["thread_id", "created_at"])
    create_event_tables(op)


def downgrade() -> None:
    op.drop_table("chat_messages")
    op.drop_table("chat_threads")
