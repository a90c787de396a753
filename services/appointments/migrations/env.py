"""Alembic environment of the appointments service (see shared.migrations)."""

from appointments.models import AppointmentsTable
from shared.migrations import run_alembic_env

run_alembic_env(AppointmentsTable.metadata)
