"""Alembic environment of the chat service (see shared.migrations)."""

from chat.models import ChatTable
from shared.migrations import run_alembic_env

run_alembic_env(ChatTable.metadata)
