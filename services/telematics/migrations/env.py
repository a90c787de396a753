"""Alembic environment of the telematics service (see shared.migrations)."""

from shared.migrations import run_alembic_env
from telematics.models import TelematicsTable

run_alembic_env(TelematicsTable.metadata)
