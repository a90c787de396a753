"""Alembic environment of the auth service (see shared.migrations)."""

from auth.models import AuthTable
from shared.migrations import run_alembic_env

run_alembic_env(AuthTable.metadata)
