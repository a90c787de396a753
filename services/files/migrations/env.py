"""Alembic environment of the files service (see shared.migrations)."""

from files.models import FilesTable
from shared.migrations import run_alembic_env

run_alembic_env(FilesTable.metadata)
