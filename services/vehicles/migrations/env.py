"""Alembic environment of the vehicles service (see shared.migrations)."""

from shared.migrations import run_alembic_env
from vehicles.models import VehiclesTable

run_alembic_env(VehiclesTable.metadata)
