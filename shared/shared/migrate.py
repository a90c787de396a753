"""Apply a service's migrations and exit: ``python -m shared.migrate <service>``.

The same steps a service's start-up takes (create its database if missing, then
upgrade to head under the advisory lock of :mod:`shared.migrations`), for a
deployment that runs them before the app starts, with ``MIGRATE_ON_STARTUP=false``
on the app. Every replica may run it at once: the lock makes the later ones find
the schema at head and return.

The database comes from the same environment the service reads (``DATABASE_URL``,
or ``DATA_DIR`` for SQLite); the migrations folder is the one the service's app
module names (``<service>.app.MIGRATIONS``), so both paths apply the same scripts.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.db import ensure_database_exists
from shared.logging import configure_logging
from shared.migrations import upgrade_to_head
from shared.settings import ServiceSettings

log = logging.getLogger("shared.migrate")


def migrate(service: str) -> None:
    """Create ``service``'s database if needed and apply its pending migrations."""
    settings = ServiceSettings(service_name=service)
    configure_logging(service, settings.log_level)
    migrations: Path = importlib.import_module(f"{service}.app").MIGRATIONS
    url = settings.effective_database_url
    ensure_database_exists(url)
    upgrade_to_head(migrations, url)
    log.info("migrations applied", extra={"event": "migrations_applied", "service": service})


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m shared.migrate <service>", file=sys.stderr)
        return 2
    migrate(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
