"""Alembic environment of the engagement service (see shared.migrations)."""

from engagement.models import EngagementTable
from shared.migrations import run_alembic_env

run_alembic_env(EngagementTable.metadata)
